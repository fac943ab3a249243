// 3c. The engine vs the naive baseline (naive-detector.ts) on the same graph:
// N live holds (owner o<i> holds mutex m<i>), then the same contended waits
// (each followed by its cancel). The engine searches only what the new waiter
// reaches; the baseline runs a whole-graph SCC after every event. Both sides
// are fed the same events and alternate round by round.
//
// Also: does the baseline survive a deep wait chain? graphology-components'
// SCC recurses, and DESIGN.md §4 notes it overflowing the stack at 20,000.
import type { ClientEvent } from '@deadlockd/proto';
import { addClient, applyOk, buildHolds, holdsProbe, newEngine, runProbe, type WaitProbe } from './engine-fixtures.js';
import { progress } from './child.js';
import { QUICK, SIZES } from './mode.js';
import { NaiveDetector } from './naive-detector.js';
import { alternate, median } from './stats.js';

interface DeepChainResult {
  depth: number;
  /** the naive baseline's whole-graph SCC on the chain */
  naive: { threw: boolean; error?: string };
  /** the engine: closing the chain into one big cycle, then a full sweep */
  engine: { deadlockMembers: number; closeMs: number; sweepThrew: boolean; sweepMs: number; error?: string };
}

export interface EngineVsNaiveResult {
  holds: number;
  engineNsPerWait: number;
  naiveNsPerWait: number;
  naiveError?: string;
  engineWaitsPerRound: number;
  naiveWaitsPerRound: number;
  rounds: number;
  /** naive / engine: goal ≥ 100 */
  ratio: number;
  deepChain: DeepChainResult;
}

function runNaiveProbe(naive: NaiveDetector, p: WaitProbe): number {
  const n = p.waits.length;
  let found = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const c = p.clients[i] as string;
    if (naive.applyAndDetect(c, (p.waits[i] as ClientEvent[])[0] as ClientEvent)) found++;
    if (naive.applyAndDetect(c, (p.cancels[i] as ClientEvent[])[0] as ClientEvent)) found++;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (found > 0) throw new Error('naive baseline found a cycle where there is none');
  return ns / n;
}

export async function measureEngineVsNaive(): Promise<EngineVsNaiveResult> {
  const n = SIZES.naiveHolds;
  const engine = newEngine();
  const naive = new NaiveDetector();
  buildHolds(engine, n, (c, events) => {
    for (const e of events) naive.apply(c, e);
  });
  progress(`engine + graphology baseline built with ${n} holds (${naive.graph.order} owner nodes)`);
  const engineWaits = QUICK ? 3_000 : 10_000;
  const naiveWaits = SIZES.naivePairsPerRound;
  const rounds = SIZES.naiveRounds;
  const engineProbes = Array.from({ length: rounds + SIZES.engineWarmup }, (_, r) => holdsProbe(n, engineWaits, 2000 + r, false, true));
  const naiveProbes = Array.from({ length: rounds + SIZES.engineWarmup }, (_, r) => holdsProbe(n, naiveWaits, 2000 + r, false, true));
  let re = 0;
  let rn = 0;
  let naiveError: string | undefined;
  const [e, v] = await alternate(
    [
      () => runProbe(engine, engineProbes[re++] as WaitProbe),
      () => {
        try {
          return runNaiveProbe(naive, naiveProbes[rn++] as WaitProbe);
        } catch (err) {
          naiveError = `${(err as Error).name}: ${(err as Error).message}`;
          return Number.NaN;
        }
      },
    ],
    rounds,
    SIZES.engineWarmup,
  );
  const engineNs = median(e as number[]);
  const naiveNs = median(v as number[]);
  const result: EngineVsNaiveResult = {
    holds: n,
    engineNsPerWait: engineNs,
    naiveNsPerWait: naiveNs,
    engineWaitsPerRound: engineWaits,
    naiveWaitsPerRound: naiveWaits,
    rounds,
    ratio: naiveNs / engineNs,
    deepChain: deepChain(SIZES.deepChain),
  };
  if (naiveError) result.naiveError = naiveError;
  return result;
}

/** o<i> holds m<i> and waits for m<i+1>: one path `depth` owners long; then o<last> waits for m0, closing it. */
function deepChain(depth: number): DeepChainResult {
  const events: ClientEvent[] = [];
  for (let i = 0; i < depth; i++) {
    events.push({ type: 'resource', resource: `m${i}`, kind: 'mutex', scope: 'local' });
    events.push({ type: 'hold', owner: `o${i}`, resource: `m${i}` });
  }
  for (let i = 0; i < depth - 1; i++) events.push({ type: 'wait', waitId: `w${i}`, owner: `o${i}`, resource: `m${i + 1}` });

  const naive = new NaiveDetector();
  for (const ev of events) naive.apply('chain', ev);
  let naiveResult: DeepChainResult['naive'];
  try {
    naive.detect();
    naiveResult = { threw: false };
  } catch (err) {
    naiveResult = { threw: true, error: `${(err as Error).name}: ${(err as Error).message}` };
  }

  const engine = newEngine();
  addClient(engine, 'chain');
  applyOk(engine, 'chain', events);
  const engineResult: DeepChainResult['engine'] = { deadlockMembers: 0, closeMs: 0, sweepThrew: false, sweepMs: 0 };
  try {
    let t = performance.now();
    const r = engine.applyBatch('chain', [{ type: 'wait', waitId: 'close', owner: `o${depth - 1}`, resource: 'm0' }]);
    engineResult.closeMs = performance.now() - t;
    engineResult.deadlockMembers = r.found[0]?.deadlock.members.length ?? 0;
    // Sweep on the open chain (the victim's wait cancelled): it must walk 20k deep without a stack overflow.
    applyOk(engine, 'chain', [{ type: 'cancel', waitId: 'close' }]);
    t = performance.now();
    engine.sweep();
    engineResult.sweepMs = performance.now() - t;
  } catch (err) {
    engineResult.sweepThrew = true;
    engineResult.error = `${(err as Error).name}: ${(err as Error).message}`;
  }
  return { depth, naive: naiveResult, engine: engineResult };
}
