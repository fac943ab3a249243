// 3d. Memory per live hold. Runs in a child started with --expose-gc: the heap
// is collected before and after each step and the growth is divided by the
// number of holds. The holds are built as in 3b (owner o<i> holds mutex m<i>),
// in steps: declaring the owners, declaring the mutexes (m<i> and n<i>), the
// holds of m<i>, then a second hold per owner, of n<i>. An owner's first hold
// lives in the owner itself (model.ts, Hold: its fields are counted with the
// owner), so the m<i> holds add next to nothing; the goal row is the second
// step of holds, a hold that needs a record of its own, between an owner and a
// resource the daemon already tracks. The sum of the owner, a mutex and the
// first hold (every hold bringing a new owner and a new mutex of its own) is
// reported beside it.
import type { ClientEvent } from '@deadlockd/proto';
import { addClient, applyOk, clientOf, newEngine } from './engine-fixtures.js';
import { SIZES } from './mode.js';
import { collectGarbage } from './stats.js';

export interface MemoryResult {
  holds: number;
  /** whole graph growth / holds: owner + mutex + hold each (the worst case) */
  bytesPerHold: number;
  /** the parts */
  bytesPerOwner: number;
  bytesPerResource: number;
  /** an owner's first hold, between an owner and a mutex that already exist (kept in the owner; absent in results saved before it) */
  bytesPerFirstHold?: number;
  /** a further hold between an owner and a mutex that already exist (a record: the goal row, ≤ 200 B) */
  bytesPerHoldOnly: number;
  gcExposed: boolean;
}

const CHUNK = 10_000;

function heapAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

function applyInChunks(engine: ReturnType<typeof newEngine>, n: number, make: (i: number) => ClientEvent): void {
  for (let start = 0; start < n; start += CHUNK) {
    const byClient = new Map<string, ClientEvent[]>();
    for (let i = start; i < Math.min(n, start + CHUNK); i++) {
      const c = clientOf(i);
      let list = byClient.get(c);
      if (!list) byClient.set(c, (list = []));
      list.push(make(i));
    }
    for (const [c, events] of byClient) applyOk(engine, c, events);
  }
}

export async function measureMemory(): Promise<MemoryResult> {
  const n = SIZES.memoryHolds;
  const gcExposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  const base = heapAfterGc();
  const engine = newEngine();
  for (let c = 0; c * 50_000 < n; c++) addClient(engine, `c${c}`);
  applyInChunks(engine, n, (i) => ({ type: 'owner', owner: `o${i}` }));
  const afterOwners = heapAfterGc();
  applyInChunks(engine, n, (i) => ({ type: 'resource', resource: `m${i}`, kind: 'mutex', scope: 'local' }));
  const afterResources = heapAfterGc();
  applyInChunks(engine, n, (i) => ({ type: 'resource', resource: `n${i}`, kind: 'mutex', scope: 'local' }));
  const afterSecondResources = heapAfterGc();
  applyInChunks(engine, n, (i) => ({ type: 'hold', owner: `o${i}`, resource: `m${i}` }));
  const afterHolds = heapAfterGc();
  applyInChunks(engine, n, (i) => ({ type: 'hold', owner: `o${i}`, resource: `n${i}` }));
  const afterSecondHolds = heapAfterGc();
  const s = engine.stats();
  if (s.holds !== 2 * n || s.owners !== n) throw new Error(`memory fixture: ${JSON.stringify(s)}`);
  const bytesPerOwner = (afterOwners - base) / n;
  const bytesPerResource = (afterResources - afterOwners) / n;
  const bytesPerFirstHold = (afterHolds - afterSecondResources) / n;
  return {
    holds: n,
    bytesPerHold: bytesPerOwner + bytesPerResource + bytesPerFirstHold,
    bytesPerOwner,
    bytesPerResource,
    bytesPerFirstHold,
    bytesPerHoldOnly: (afterSecondHolds - afterHolds) / n,
    gcExposed,
  };
}
