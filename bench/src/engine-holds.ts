// 3b. Graph size: does a new wait cost more when a million holds are live?
// Both graphs are "many owners, each holding one mutex". Three kinds of timed
// waits (each followed by its cancel), alternating between the two graphs:
//   random, nested: waits on mutexes picked at random across the whole graph
//              (each held, its holder runs: no cycle) by owners that hold a
//              mutex of their own, so the detection's pre-filter must ask
//              whether a holder of that mutex waits (since 93173aa a count on
//              the mutex itself; before, its hold and owner, inside the big
//              graph), naming the mutex by handle as the SDKs do — the goal
//              row; and the same naming it by name (a client without handles);
//   random, empty-handed: the same by owners that hold nothing, whom no cycle
//              can pass through (the pre-filter stops before that question);
//   unrelated: waits on 100 contended mutexes of a separate client (held by
//              running owners): beside the graph, not in it.
// Then the floor under the goal (map-floor.ts): one Map lookup by name, alone, in Maps of the
// fixture's sizes, timed the same way (alternating, medians).
import { addContendedLocks, addNestedWaiters, buildHolds, contendedProbe, holdsProbe, newEngine, OWNERS_PER_CLIENT, runProbe, type WaitProbe } from './engine-fixtures.js';
import { mapFloor } from './map-floor.js';
import { progress } from './child.js';
import { QUICK, SIZES } from './mode.js';
import { alternate, median } from './stats.js';

export interface HoldsScalingResult {
  holds: [number, number];
  /** waits on unrelated contended locks: median ns per (wait + cancel), small / large graph */
  nsPerWait: [number, number];
  /** waits on random held mutexes of the graph itself, by owners holding a mutex of their own */
  randomNsPerWait: [number, number];
  randomRatio: number;
  /** the nested waits naming the mutex by name instead of by handle */
  byNameNsPerWait: [number, number];
  byNameRatio: number;
  /** the same by owners that hold nothing */
  emptyHandedNsPerWait: [number, number];
  emptyHandedRatio: number;
  rounds: number;
  waitsPerRound: number;
  buildSeconds: number;
  /** large / small: goal ≤ 2 */
  ratio: number;
  /** one dependent Map.get by string key in Maps of the fixture's sizes: ns, small / large, and their ratio */
  floor: { nsPerLookup: [number, number]; ratio: number };
}

export async function measureHoldsScaling(): Promise<HoldsScalingResult> {
  const sizes = [SIZES.holdsSmall, SIZES.holdsLarge] as const;
  const perRound = QUICK ? 3_000 : 10_000;
  const t0 = performance.now();
  const LOCKS = 100;
  const unrelated = contendedProbe(LOCKS, perRound);
  const engines = sizes.map((n) => {
    const engine = newEngine();
    buildHolds(engine, n);
    addContendedLocks(engine, LOCKS);
    const got = engine.stats().holds;
    if (got !== n + LOCKS) throw new Error(`holds fixture has ${got} holds, wanted ${n + LOCKS}`);
    addNestedWaiters(engine, n);
    return engine;
  });
  // a fresh random sample per round, the same seeds on both sides
  const probesOf = (n: number, nested: boolean, byName = false): WaitProbe[] =>
    Array.from({ length: SIZES.holdsRounds + SIZES.engineWarmup }, (_, r) => holdsProbe(n, perRound, 1000 + r, nested, byName));
  const nestedProbes = sizes.map((n) => probesOf(n, true));
  const emptyProbes = sizes.map((n) => probesOf(n, false));
  const byNameProbes = sizes.map((n) => probesOf(n, true, true));
  const rounds = [0, 0, 0, 0, 0, 0];
  const next = (k: number, probes: WaitProbe[]): WaitProbe => probes[(rounds[k] = (rounds[k] as number) + 1) % probes.length] as WaitProbe;
  const variants = [0, 1].flatMap((i) => {
    const engine = engines[i] as ReturnType<typeof newEngine>;
    return [
      () => runProbe(engine, unrelated),
      () => runProbe(engine, next(3 * i, nestedProbes[i] as WaitProbe[])),
      () => runProbe(engine, next(3 * i + 1, emptyProbes[i] as WaitProbe[])),
      () => runProbe(engine, next(3 * i + 2, byNameProbes[i] as WaitProbe[])),
    ];
  });
  const buildSeconds = (performance.now() - t0) / 1000;
  progress(`holds fixtures built (${sizes.join(' and ')} holds) in ${buildSeconds.toFixed(1)} s`);
  const [a, ra, ea, na, b, rb, eb, nb] = (await alternate(variants, SIZES.holdsRounds, SIZES.engineWarmup)).map(median) as number[];
  const small = a as number;
  const large = b as number;
  const floors = sizes.map((n) => mapFloor(n, OWNERS_PER_CLIENT, QUICK ? 50_000 : 200_000, 77));
  const [fa, fb] = (await alternate(floors.map((f) => f.run), SIZES.holdsRounds, SIZES.engineWarmup)).map(median) as [number, number];
  return {
    holds: [sizes[0], sizes[1]],
    nsPerWait: [small, large],
    randomNsPerWait: [ra as number, rb as number],
    randomRatio: (rb as number) / (ra as number),
    byNameNsPerWait: [na as number, nb as number],
    byNameRatio: (nb as number) / (na as number),
    emptyHandedNsPerWait: [ea as number, eb as number],
    emptyHandedRatio: (eb as number) / (ea as number),
    rounds: SIZES.holdsRounds,
    waitsPerRound: perRound,
    buildSeconds,
    ratio: large / small,
    floor: { nsPerLookup: [fa, fb], ratio: fb / fa },
  };
}
