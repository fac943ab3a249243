// 3a. Hot mutex: does a new wait cost more when thousands already queue on the
// same lock? InnoDB's pre-8.0.18 detector did (a hot row fell from ~20k to
// ~266 updates/s at 140 threads, research/db-detectors.md §2). Here one FIFO
// mutex is held by a running owner; 10 vs 10,000 owners queue on it; we time
// new waits (each its own batch, so each runs detection) plus their cancel.
import { buildHotLock, hotLockProbe, newEngine, runProbe } from './engine-fixtures.js';
import { QUICK, SIZES } from './mode.js';
import { alternate, median } from './stats.js';
import { measureHotBatch, type HotBatchResult } from './engine-hot-batch.js';

export interface HotLockResult {
  waiters: [number, number];
  /** median ns per (wait + cancel), each side */
  nsPerWait: [number, number];
  rounds: number;
  waitsPerRound: number;
  /** big / small: goal ≤ 2 */
  ratio: number;
  /** the same hot lock when the waits arrive in one batch */
  batch: HotBatchResult;
}

export async function measureHotLock(): Promise<HotLockResult> {
  const [small, big] = SIZES.hotWaiters;
  const perRound = QUICK ? 3_000 : 10_000;
  const sides = [small, big].map((n) => {
    const engine = newEngine();
    const client = buildHotLock(engine, n);
    const probe = hotLockProbe(client, perRound);
    if (engine.stats().waits !== n) throw new Error(`hot lock fixture has ${engine.stats().waits} waits, wanted ${n}`);
    return () => runProbe(engine, probe);
  });
  const [a, b] = await alternate(sides, SIZES.hotRounds, SIZES.engineWarmup);
  const nsSmall = median(a as number[]);
  const nsBig = median(b as number[]);
  return {
    waiters: [small, big],
    nsPerWait: [nsSmall, nsBig],
    rounds: SIZES.hotRounds,
    waitsPerRound: perRound,
    ratio: nsBig / nsSmall,
    batch: await measureHotBatch(),
  };
}
