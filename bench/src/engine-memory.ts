// 3d. Memory per live hold. Runs in a child started with --expose-gc: the heap
// is collected before and after each step and the growth is divided by the
// number of holds. The holds are built as in 3b (owner o<i> holds mutex m<i>),
// in three steps: declaring the owners, declaring the mutexes, then the holds
// themselves. The goal row is the last step — what a hold costs between an
// owner and a resource the daemon already tracks; the sum of all three (every
// hold bringing a new owner and a new mutex of its own) is reported beside it.
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
  /** a hold between an owner and a mutex that already exist (the goal row, ≤ 200 B) */
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
  applyInChunks(engine, n, (i) => ({ type: 'hold', owner: `o${i}`, resource: `m${i}` }));
  const afterHolds = heapAfterGc();
  const s = engine.stats();
  if (s.holds !== n || s.owners !== n) throw new Error(`memory fixture: ${JSON.stringify(s)}`);
  return {
    holds: n,
    bytesPerHold: (afterHolds - base) / n,
    bytesPerOwner: (afterOwners - base) / n,
    bytesPerResource: (afterResources - afterOwners) / n,
    bytesPerHoldOnly: (afterHolds - afterResources) / n,
    gcExposed,
  };
}
