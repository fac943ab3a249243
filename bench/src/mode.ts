// How big each measurement is. The default run stays under ~3 minutes on a
// shared 2-core machine; BENCH_QUICK=1 is a ~20 s smoke run with the same
// shapes at smaller sizes (its figures are indicative only).
export const QUICK = process.env.BENCH_QUICK === '1';

export const SIZES = QUICK
  ? {
      ingestRounds: 2,
      ingestTargetMs: 150,
      latencyReps: 60,
      hotRounds: 5,
      hotWaiters: [10, 10_000] as const,
      hotBatch: [500, 2_000] as const,
      engineWarmup: 2,
      holdsRounds: 5,
      holdsSmall: 1_000,
      holdsLarge: 100_000,
      naiveHolds: 20_000,
      naiveRounds: 3,
      naivePairsPerRound: 2,
      deepChain: 20_000,
      memoryHolds: 50_000,
    }
  : {
      ingestRounds: 7,
      ingestTargetMs: 800,
      latencyReps: 400,
      hotRounds: 25,
      hotWaiters: [10, 10_000] as const,
      hotBatch: [1_000, 4_000] as const,
      engineWarmup: 3,
      holdsRounds: 21,
      holdsSmall: 1_000,
      holdsLarge: 1_000_000,
      naiveHolds: 100_000,
      naiveRounds: 9,
      naivePairsPerRound: 3,
      deepChain: 20_000,
      memoryHolds: 300_000,
    };
