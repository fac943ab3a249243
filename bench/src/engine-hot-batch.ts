// 3a'. Hot mutex, waits arriving in ONE batch. A reconnecting SDK sends its
// whole state in one snapshot frame, and a busy client flushes many waits at
// once, so n owners queued on one FIFO mutex can reach the engine together.
// Per-wait cost should not depend on how many queue there (the goal of 3a);
// here we compare n and 4n waits applied as a single batch.
import { addClient, applyOk, newEngine } from './engine-fixtures.js';
import type { ClientEvent } from '@deadlockd/proto';
import { SIZES } from './mode.js';
import { alternate, median } from './stats.js';

export interface HotBatchResult {
  waits: [number, number];
  /** median ns per wait when all of them come in one batch */
  nsPerWait: [number, number];
  rounds: number;
  /** big / small: same goal as 3a (≤ 2) */
  ratio: number;
}

function oneBatch(n: number): number {
  const engine = newEngine();
  addClient(engine, 'hot');
  applyOk(engine, 'hot', [
    { type: 'resource', resource: 'hot', kind: 'mutex', scope: 'local', fifo: true },
    { type: 'hold', owner: 'holder', resource: 'hot' },
  ]);
  const events: ClientEvent[] = [];
  for (let i = 0; i < n; i++) events.push({ type: 'wait', waitId: `q${i}`, owner: `q${i}`, resource: 'hot' });
  const t0 = process.hrtime.bigint();
  applyOk(engine, 'hot', events);
  return Number(process.hrtime.bigint() - t0) / n;
}

export async function measureHotBatch(): Promise<HotBatchResult> {
  const [small, big] = SIZES.hotBatch;
  // a batch is a few ms: with 3 rounds the median of 3 swung 0.45-2.1x between runs (a cold first
  // batch, a scavenge in one of them); 11 rounds after 3 warm-up ones cost ~0.2 s
  const rounds = 11;
  const [a, b] = await alternate([() => oneBatch(small), () => oneBatch(big)], rounds, 3);
  const nsSmall = median(a as number[]);
  const nsBig = median(b as number[]);
  return { waits: [small, big], nsPerWait: [nsSmall, nsBig], rounds, ratio: nsBig / nsSmall };
}
