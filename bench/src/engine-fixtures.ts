// Graphs for the engine measurements, built through the engine's public API
// (applyBatch with protocol events), and the probe that times new waits.
import type { ClientEvent } from '@deadlockd/proto';
import { Engine } from '@deadlockd/server/engine';
import { prng } from './stats.js';

/** Owners per client in the big fixtures; the default engine limit is 100k per client. */
export const OWNERS_PER_CLIENT = 50_000;
const CHUNK = 10_000;

/**
 * The engine's per-namespace limits (500k owners by default) are the daemon's safety net, not
 * what is measured here: 3b builds a million owners in one namespace.
 */
const BENCH_LIMITS = { maxOwnersPerNamespace: 5_000_000, maxResourcesPerNamespace: 5_000_000, maxHoldsPerNamespace: 5_000_000, maxWaitsPerNamespace: 5_000_000 };

export function newEngine(): Engine {
  return new Engine({ namespace: 'bench', limits: BENCH_LIMITS });
}

export function addClient(engine: Engine, id: string): void {
  engine.addClient({ id, service: 'bench', instance: id });
}

/** applyBatch that fails loudly: a bench built on rejected events would measure nothing. */
export function applyOk(engine: Engine, client: string, events: ClientEvent[]): void {
  const r = engine.applyBatch(client, events);
  if (r.errors.length > 0) throw new Error(`engine rejected ${r.errors.length} events, first: ${JSON.stringify(r.errors[0])}`);
}

export const clientOf = (i: number): string => `c${Math.floor(i / OWNERS_PER_CLIENT)}`;

/**
 * `n` live holds: owner o<i> holds local mutex m<i>, spread over clients of
 * OWNERS_PER_CLIENT owners. Each m<i> is declared with handle i % OWNERS_PER_CLIENT (the
 * client's k-th declaration gets handle k, as the SDKs number them), so probes can name it by
 * handle or by name. Calls `each` with every chunk of events applied,
 * so other detectors (the naive baseline) can be fed the same stream.
 */
export function buildHolds(engine: Engine, n: number, each?: (client: string, events: ClientEvent[]) => void): void {
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(n, start + CHUNK);
    const byClient = new Map<string, ClientEvent[]>();
    for (let i = start; i < end; i++) {
      const c = clientOf(i);
      let list = byClient.get(c);
      if (!list) {
        if (!engine.hasClient(c)) addClient(engine, c);
        byClient.set(c, (list = []));
      }
      list.push({ type: 'resource', resource: `m${i}`, kind: 'mutex', scope: 'local', handle: i % OWNERS_PER_CLIENT });
      list.push({ type: 'hold', owner: `o${i}`, resource: `m${i}` });
    }
    for (const [c, events] of byClient) {
      applyOk(engine, c, events);
      each?.(c, events);
    }
  }
}

/** One hot FIFO mutex `hot` held by a running owner (no waits of its own) with `waiters` owners queued on it. */
export function buildHotLock(engine: Engine, waiters: number): string {
  const c = 'hot';
  addClient(engine, c);
  applyOk(engine, c, [
    { type: 'resource', resource: 'hot', kind: 'mutex', scope: 'local', fifo: true },
    { type: 'hold', owner: 'holder', resource: 'hot' },
  ]);
  // One wait per batch, as they would arrive live. (Many waits on one FIFO
  // lock in ONE batch cost the engine O(n²); engine-hot-batch.ts measures that.)
  for (let i = 0; i < waiters; i++) applyOk(engine, c, [{ type: 'wait', waitId: `q${i}`, owner: `q${i}`, resource: 'hot' }]);
  return c;
}

/** A prepared sequence of (wait, cancel) batches: each wait is its own batch, so each one runs detection. */
export interface WaitProbe {
  clients: string[];
  waits: ClientEvent[][];
  cancels: ClientEvent[][];
}

/** Waits on the hot mutex by fresh owners (queued behind all the waiters). */
export function hotLockProbe(client: string, count: number): WaitProbe {
  const p: WaitProbe = { clients: [], waits: [], cancels: [] };
  for (let i = 0; i < count; i++) {
    p.clients.push(client);
    p.waits.push([{ type: 'wait', waitId: `p${i}`, owner: `p${i % 1000}`, resource: 'hot' }]);
    p.cancels.push([{ type: 'cancel', waitId: `p${i}` }]);
  }
  return p;
}

/** A separate client with `locks` mutexes k<j> (handle j), each held by a running owner: contended locks unrelated to the rest of the graph. */
export function addContendedLocks(engine: Engine, locks: number): void {
  addClient(engine, 'probe');
  const events: ClientEvent[] = [];
  for (let j = 0; j < locks; j++) {
    events.push({ type: 'resource', resource: `k${j}`, kind: 'mutex', scope: 'local', handle: j });
    events.push({ type: 'hold', owner: `kh${j}`, resource: `k${j}` });
  }
  applyOk(engine, 'probe', events);
}

/** Waits by fresh owners on the contended locks of addContendedLocks, round robin, by handle. */
export function contendedProbe(locks: number, count: number): WaitProbe {
  const p: WaitProbe = { clients: [], waits: [], cancels: [] };
  for (let i = 0; i < count; i++) {
    p.clients.push('probe');
    p.waits.push([{ type: 'wait', waitId: `p${i}`, owner: `p${i % 1000}`, resource: i % locks }]);
    p.cancels.push([{ type: 'cancel', waitId: `p${i}` }]);
  }
  return p;
}

/** How many owners of their own the waits of a holds probe come from, whatever the fixture's size. */
const PROBE_WAITERS = 1_000;

/**
 * A waiter is an owner of the mutex's client (an owner waits on its own client's locks): with
 * the fixture's clients more numerous in a bigger graph, each has fewer of them, so that every
 * probe has PROBE_WAITERS waiting owners (1,000 per client made the 1M-hold graph's probe 20,000
 * waiters, and their own misses were counted as the graph's).
 */
const waitersPerClient = (holds: number): number => Math.ceil(PROBE_WAITERS / Math.ceil(holds / OWNERS_PER_CLIENT));

/**
 * The probe's nested waiters (holdsProbe with `nested`): owner q<x> of each client of a holds
 * fixture holds a mutex qm<x> of its own, so that a wait of theirs is one taken while holding a
 * lock and the detection's pre-filter must ask whether a holder of what it waits for waits too.
 */
export function addNestedWaiters(engine: Engine, holds: number): void {
  const per = waitersPerClient(holds);
  for (let c = 0; c * OWNERS_PER_CLIENT < holds; c++) {
    const events: ClientEvent[] = [];
    // the client's next handles: after its m<i> (buildHolds)
    const first = Math.min(OWNERS_PER_CLIENT, holds - c * OWNERS_PER_CLIENT);
    for (let x = 0; x < per; x++) {
      events.push({ type: 'resource', resource: `qm${x}`, kind: 'mutex', scope: 'local', handle: first + x });
      events.push({ type: 'hold', owner: `q${x}`, resource: `qm${x}` });
    }
    applyOk(engine, `c${c}`, events);
  }
}

/**
 * Waits on mutexes of a holds fixture picked at random (each is held, so the
 * wait is contended; its holder runs, so there is no cycle). Random picks over
 * the whole fixture, so a bigger graph also pays its cache misses. The waiters
 * hold nothing, or (`nested`) each a mutex of its own (addNestedWaiters). The
 * waits name the mutex by handle, as the SDKs do with a daemon that takes
 * handles, or (`byName`) by name.
 */
export function holdsProbe(holds: number, count: number, seed: number, nested = false, byName = false): WaitProbe {
  const rnd = prng(seed);
  const per = waitersPerClient(holds);
  const p: WaitProbe = { clients: [], waits: [], cancels: [] };
  for (let i = 0; i < count; i++) {
    const j = Math.floor(rnd() * holds);
    p.clients.push(clientOf(j));
    p.waits.push([{ type: 'wait', waitId: `p${i}`, owner: `${nested ? 'q' : 'p'}${i % per}`, resource: byName ? `m${j}` : j % OWNERS_PER_CLIENT }]);
    p.cancels.push([{ type: 'cancel', waitId: `p${i}` }]);
  }
  return p;
}

/** Applies every (wait, cancel) pair of the probe; returns nanoseconds per pair. */
export function runProbe(engine: Engine, p: WaitProbe): number {
  const n = p.waits.length;
  let deadlocks = 0;
  let errors = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const c = p.clients[i] as string;
    const r = engine.applyBatch(c, p.waits[i] as ClientEvent[]);
    deadlocks += r.found.length;
    errors += r.errors.length + engine.applyBatch(c, p.cancels[i] as ClientEvent[]).errors.length;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (deadlocks > 0 || errors > 0) throw new Error(`probe: ${deadlocks} deadlocks, ${errors} rejected events (expected none)`);
  return ns / n;
}
