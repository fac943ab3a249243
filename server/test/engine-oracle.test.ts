// Property test: the engine's verdicts against a brute-force oracle.
//
// The oracle shares no code with the engine. It keeps its own plain model of
// the events and decides "deadlocked" by exhaustive search over schedules:
// from the current state, try every order of grants (a FIFO wait only when
// all waits ahead of it are gone and it fits; any other wait when it fits)
// and of finishes (an owner with no pending wait finishes and returns all it
// holds). An owner is deadlocked iff no reachable state has it finished.
//
// After every random event we check:
//   - soundness: every deadlock the engine reports has only stuck members, its
//     victims really unblock every member, and it used no more aborts than
//     needed (no single abortable member would have done when it used two);
//   - completeness: if anyone is stuck, the engine knows a deadlock; and the
//     full sweep never finds one the incremental path missed.
// Reported deadlocks are then resolved as the SDK would: the victims' waits
// are cancelled and the victims end (retryOnDeadlock unwinds them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ClientEvent } from '@deadlockd/proto';
import type { Deadlock } from '../src/engine/index.js';
import type { Engine } from '../src/engine/engine.js';
import { EXCLUSIVE, type Resource } from '../src/engine/model.js';
import { BookedEngine } from './booked-engine.js';

const ALL = EXCLUSIVE;

type Res = { name: string; client: string | null; kind: 'mutex' | 'semaphore' | 'rwlock'; cap: number; fifo: boolean; reentrant?: boolean };
const RESOURCES: Res[] = [
  { name: 'm1', client: 'c1', kind: 'mutex', cap: 1, fifo: true },
  { name: 's1', client: 'c1', kind: 'semaphore', cap: 2, fifo: true },
  { name: 'rw1', client: 'c1', kind: 'rwlock', cap: ALL, fifo: true },
  { name: 'g1', client: null, kind: 'mutex', cap: 1, fifo: false },
  { name: 'gs', client: null, kind: 'semaphore', cap: 2, fifo: false },
  { name: 'm2', client: 'c2', kind: 'mutex', cap: 1, fifo: true },
  // a reentrant mutex: its holder's re-acquire is granted at once and counted
  { name: 'rm', client: 'c1', kind: 'mutex', cap: 1, fifo: true, reentrant: true },
  // a shared cross-process rwlock (dd.resource(name, { mode: 'shared' })): never FIFO
  { name: 'grw', client: null, kind: 'rwlock', cap: ALL, fifo: false },
];
const OWNERS: { id: string; client: string }[] = [
  { id: 'a', client: 'c1' },
  { id: 'b', client: 'c1' },
  { id: 'c', client: 'c1' },
  { id: 'd', client: 'c2' },
  { id: 'e', client: 'c2' },
];

// ---- the oracle's own model ----------------------------------------------------

interface MWait { id: string; owner: string; res: string; units: number; seq: number; mode?: 'shared' | 'exclusive'; upgrade?: boolean }
/** FIFO grant order: rwlock upgrades (a shared holder asking for exclusive) go before waiters holding nothing. */
const ahead = (x: MWait, w: MWait): boolean => (!!x.upgrade && !w.upgrade) || (!!x.upgrade === !!w.upgrade && x.seq < w.seq);
class Model {
  caps = new Map(RESOURCES.map((r) => [r.name, r.cap]));
  holds = new Map<string, Map<string, number>>(); // owner -> res -> units
  waits: MWait[] = [];
  alive = new Set<string>();
  abortable = new Map<string, boolean>();
  /** acquisitions beyond the first of a reentrant resource: `owner\0res` → count */
  reentries = new Map<string, number>();
  seq = 0;

  res(name: string): Res | undefined {
    return RESOURCES.find((r) => r.name === name);
  }
  held(owner: string, res: string): number {
    return this.holds.get(owner)?.get(res) ?? 0;
  }
  free(res: string, holds = this.holds): number {
    if (res.startsWith('task:')) return holds.has(res.slice(5)) || this.alive.has(res.slice(5)) ? 0 : ALL;
    let used = 0;
    for (const m of holds.values()) used += m.get(res) ?? 0;
    return (this.caps.get(res) ?? 0) - used;
  }
}

/** Exhaustive schedule search: the owners that can finish in SOME future. */
function canEverFinish(m: Model, finishedFromStart: Set<string>): Set<string> {
  type S = { holds: Map<string, Map<string, number>>; pending: MWait[]; done: Set<string> };
  const clone = (s: S): S => ({ holds: new Map([...s.holds].map(([k, v]) => [k, new Map(v)])), pending: [...s.pending], done: new Set(s.done) });
  const key = (s: S) => JSON.stringify([[...s.done].sort(), s.pending.map((w) => w.id).sort(), [...s.holds].map(([o, h]) => [o, [...h].sort()]).sort()]);
  const owners = new Set<string>([...m.alive, ...m.waits.map((w) => w.owner), ...m.holds.keys()]);
  const start: S = { holds: new Map([...m.holds].map(([k, v]) => [k, new Map(v)])), pending: m.waits.filter((w) => !finishedFromStart.has(w.owner)), done: new Set() };
  const ever = new Set<string>();
  const seen = new Set<string>();
  const stack: S[] = [start];
  const free = (s: S, res: string) => {
    if (res.startsWith('task:')) return s.done.has(res.slice(5)) ? ALL : 0;
    let used = 0;
    for (const [o, h] of s.holds) if (!s.done.has(o)) used += h.get(res) ?? 0;
    return (m.caps.get(res) ?? 0) - used;
  };
  while (stack.length) {
    const s = stack.pop() as S;
    const k = key(s);
    if (seen.has(k)) continue;
    seen.add(k);
    if (seen.size > 50_000) throw new Error('oracle: state space too large');
    for (const o of s.done) ever.add(o);
    for (const o of owners) {
      if (s.done.has(o) || s.pending.some((w) => w.owner === o)) continue;
      const n = clone(s);
      n.done.add(o);
      n.holds.delete(o);
      stack.push(n);
    }
    for (const w of s.pending) {
      const r = m.res(w.res);
      const fifo = r?.fifo ?? false;
      if (fifo && s.pending.some((x) => x.res === w.res && ahead(x, w))) continue;
      if (w.units > free(s, w.res)) continue;
      const n = clone(s);
      n.pending = n.pending.filter((x) => x !== w);
      if (!w.res.startsWith('task:')) {
        const h = n.holds.get(w.owner) ?? new Map<string, number>();
        h.set(w.res, (h.get(w.res) ?? 0) + w.units);
        n.holds.set(w.owner, h);
      }
      stack.push(n);
    }
  }
  return ever;
}

function stuckOwners(m: Model, finished = new Set<string>()): Set<string> {
  const ever = canEverFinish(m, finished);
  const stuck = new Set<string>();
  for (const w of m.waits) if (!ever.has(w.owner) && !finished.has(w.owner)) stuck.add(w.owner);
  return stuck;
}

// ---- random operations -----------------------------------------------------------

type Op =
  | { op: 'wait'; owner: number; res: number; k: number }
  | { op: 'taskwait'; owner: number; target: number }
  | { op: 'hold'; owner: number; res: number; k: number }
  | { op: 'grant'; pick: number }
  | { op: 'cancel'; pick: number }
  | { op: 'release'; pick: number }
  | { op: 'end'; owner: number }
  | { op: 'cap'; cap: number }
  | { op: 'abortable'; owner: number; v: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('wait' as const), owner: fc.nat(4), res: fc.nat(7), k: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('taskwait' as const), owner: fc.nat(4), target: fc.nat(4) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('hold' as const), owner: fc.nat(4), res: fc.nat(7), k: fc.nat(1) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('grant' as const), pick: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('end' as const), owner: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cap' as const), cap: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('abortable' as const), owner: fc.nat(4), v: fc.boolean() }) },
);

/** Runs one random history; returns a description of the first violation, or null. */
/**
 * Replays `ops`. With `chunks`, consecutive events are applied as batches of
 * those sizes (one applyBatch per run of events from one client), the way a
 * daemon receives them, and the checks run at batch ends. With `byHandle`, each
 * client declares its resources with handles and names them by handle in waits,
 * holds and releases (proto ResourceEvent.handle), as the SDKs do.
 */
function runHistory(ops: Op[], chunks?: number[], sliced = false, byHandle = false): void {
  const engine = new BookedEngine({ namespace: 'prop' }, sliced);
  const m = new Model();
  let waitNo = 0;
  /** client → resource name → its handle on that client's connection */
  const handles = new Map<string, Map<string, number>>();
  for (const c of ['c1', 'c2']) {
    engine.addClient({ id: c, service: c, instance: c });
    const mine = RESOURCES.filter((r) => r.client === c || r.client === null);
    // the other client declares the shared ones in the other order: handles are per connection
    if (c === 'c2') mine.reverse();
    handles.set(c, new Map(mine.map((r, i) => [r.name, i])));
    const decl: ClientEvent[] = mine.map((r, i) => ({
      type: 'resource', resource: r.name, kind: r.kind, scope: r.client ? 'local' : 'global', ...(r.kind === 'semaphore' ? { capacity: r.cap } : {}), ...(r.reentrant ? { reentrant: true } : {}),
      ...(byHandle ? { handle: i } : {}),
    }));
    assert.deepEqual(engine.applyBatch(c, decl).errors, []);
  }
  const clientOf = (owner: string) => (OWNERS.find((o) => o.id === owner) as { client: string }).client;
  /** how `owner`'s client names resource `name` in a wait, hold or release */
  const ref = (owner: string, name: string): string | number => (byHandle ? (handles.get(clientOf(owner))!.get(name) as number) : name);
  let batching = false;
  let pending: { client: string; e: ClientEvent }[] = [];
  const flush = () => {
    const out: Deadlock[] = [];
    while (pending.length) {
      const client = pending[0]!.client;
      let n = 0;
      while (n < pending.length && pending[n]!.client === client) n++;
      const events = pending.slice(0, n).map((p) => p.e);
      pending = pending.slice(n);
      const r = engine.applyBatch(client, events);
      assert.deepEqual(r.errors, [], `engine rejected valid events ${JSON.stringify(events)}`);
      out.push(...r.deadlocks);
    }
    return out;
  };
  const send = (owner: string, e: ClientEvent): Deadlock[] => {
    pending.push({ client: clientOf(owner), e });
    return batching ? [] : flush();
  };
  let chunkLeft = chunks?.[0] ?? 1;
  let chunkNo = 0;
  const ensureOwner = (id: string) => {
    if (m.alive.has(id)) return;
    m.alive.add(id);
    send(id, { type: 'owner', owner: id, abortable: m.abortable.get(id) ?? true });
  };
  const grantable = (w: MWait) => {
    const r = m.res(w.res);
    if (r?.fifo && m.waits.some((x) => x.res === w.res && ahead(x, w))) return false;
    return w.units <= m.free(w.res);
  };
  const shape = (r: Res, k: number, owner: string): { units: number; mode?: 'shared' | 'exclusive'; ev: object } => {
    if (r.kind === 'semaphore') return { units: k + 1, ev: { units: k + 1 } };
    if (r.kind === 'rwlock') {
      const mode = k === 0 ? 'shared' : 'exclusive';
      const own = m.held(owner, r.name);
      const units = mode === 'shared' ? 1 : own > 0 && own < ALL ? ALL - own : ALL;
      return { units, mode, ev: { mode } };
    }
    return { units: 1, ev: {} };
  };

  const found: Deadlock[] = [];
  for (const op of ops) {
    batching = chunks !== undefined;
    // A batch belongs to one client: batched histories use c1's owners only, so
    // a chunk is exactly one applyBatch and the model matches it at the end.
    if (batching && 'owner' in op && (OWNERS[op.owner] as { client: string }).client !== 'c1') continue;
    if (batching && op.op === 'taskwait' && (OWNERS[op.target] as { client: string }).client !== 'c1') continue;
    do switch (op.op) {
      case 'wait': {
        const o = OWNERS[op.owner] as { id: string; client: string };
        const r = RESOURCES[op.res] as Res;
        if (r.client && r.client !== o.client) continue;
        const mine = m.waits.filter((w) => w.owner === o.id);
        if (mine.length >= 2 || mine.some((w) => w.res === r.name)) continue;
        if (r.name === 's1' && op.k + 1 > (m.caps.get('s1') as number)) continue;
        if (r.reentrant && m.held(o.id, r.name) > 0) continue; // granted at once: a hold, not a wait
        ensureOwner(o.id);
        const { units, mode, ev } = shape(r, op.k, o.id);
        const own = m.held(o.id, r.name);
        const upgrade = r.kind === 'rwlock' && mode === 'exclusive' && own > 0 && own < ALL;
        const w: MWait = { id: `w${++waitNo}`, owner: o.id, res: r.name, units, seq: ++m.seq, ...(mode ? { mode } : {}), ...(upgrade ? { upgrade } : {}) };
        m.waits.push(w);
        found.push(...send(o.id, { type: 'wait', waitId: w.id, owner: o.id, resource: ref(o.id, r.name), ...ev } as ClientEvent));
        break;
      }
      case 'taskwait': {
        const o = OWNERS[op.owner] as { id: string; client: string };
        const t = OWNERS[op.target] as { id: string; client: string };
        if (o.client !== t.client || !m.alive.has(t.id)) continue;
        const mine = m.waits.filter((w) => w.owner === o.id);
        if (mine.length >= 2 || mine.some((w) => w.res === `task:${t.id}`)) continue;
        ensureOwner(o.id);
        const w: MWait = { id: `w${++waitNo}`, owner: o.id, res: `task:${t.id}`, units: 1, seq: ++m.seq };
        m.waits.push(w);
        found.push(...send(o.id, { type: 'wait', waitId: w.id, owner: o.id, task: t.id }));
        break;
      }
      case 'hold': {
        const o = OWNERS[op.owner] as { id: string; client: string };
        const r = RESOURCES[op.res] as Res;
        if (r.client && r.client !== o.client) continue;
        if (r.reentrant && m.held(o.id, r.name) > 0) {
          // a re-acquire by the holder: counted, nothing else changes
          const k = `${o.id}\u0000${r.name}`;
          m.reentries.set(k, (m.reentries.get(k) ?? 0) + 1);
          found.push(...send(o.id, { type: 'hold', owner: o.id, resource: ref(o.id, r.name) }));
          break;
        }
        if (m.held(o.id, r.name) > 0) continue;
        if (r.name === 's1' && op.k + 1 > (m.caps.get('s1') as number)) continue;
        const { units, ev } = shape(r, op.k, o.id);
        // An uncontended acquire: it fits and (FIFO) nobody is queued.
        if (units > m.free(r.name) || (r.fifo && m.waits.some((w) => w.res === r.name))) continue;
        ensureOwner(o.id);
        const h = m.holds.get(o.id) ?? new Map<string, number>();
        h.set(r.name, units);
        m.holds.set(o.id, h);
        found.push(...send(o.id, { type: 'hold', owner: o.id, resource: ref(o.id, r.name), ...ev } as ClientEvent));
        break;
      }
      case 'grant': {
        const ok = m.waits.filter(grantable);
        if (ok.length === 0) continue;
        const w = ok[op.pick % ok.length] as MWait;
        m.waits = m.waits.filter((x) => x !== w);
        if (!w.res.startsWith('task:')) {
          const h = m.holds.get(w.owner) ?? new Map<string, number>();
          h.set(w.res, (h.get(w.res) ?? 0) + w.units);
          m.holds.set(w.owner, h);
        }
        found.push(...send(w.owner, { type: 'grant', waitId: w.id }));
        break;
      }
      case 'cancel': {
        if (m.waits.length === 0) continue;
        const w = m.waits[op.pick % m.waits.length] as MWait;
        m.waits = m.waits.filter((x) => x !== w);
        found.push(...send(w.owner, { type: 'cancel', waitId: w.id }));
        break;
      }
      case 'release': {
        const all = [...m.holds].flatMap(([o, h]) => [...h].map(([res, units]) => ({ o, res, units })));
        if (all.length === 0) continue;
        const x = all[op.pick % all.length] as { o: string; res: string; units: number };
        const r = m.res(x.res) as Res;
        const ev = r.kind === 'rwlock' ? { mode: x.units >= ALL ? 'exclusive' : 'shared' } : r.kind === 'semaphore' ? { units: x.units } : {};
        const h = m.holds.get(x.o) as Map<string, number>;
        const rk = `${x.o}\u0000${x.res}`;
        const again = m.reentries.get(rk) ?? 0;
        const left = r.kind === 'rwlock' && x.units < ALL ? x.units - 1 : 0;
        if (again > 0) m.reentries.set(rk, again - 1); // one of several acquisitions: still held
        else if (left > 0) h.set(x.res, left);
        else h.delete(x.res);
        if (h.size === 0) m.holds.delete(x.o);
        found.push(...send(x.o, { type: 'release', owner: x.o, resource: ref(x.o, x.res), ...ev } as ClientEvent));
        break;
      }
      case 'end': {
        const o = OWNERS[op.owner] as { id: string };
        if (!m.alive.has(o.id)) continue;
        endOwner(o.id);
        found.push(...send(o.id, { type: 'end', owner: o.id }));
        break;
      }
      case 'cap': {
        if (m.waits.some((w) => w.res === 's1' && w.units > op.cap)) continue; // rejected by design (impossible request)
        m.caps.set('s1', op.cap);
        found.push(...send('a', { type: 'resource', resource: 's1', kind: 'semaphore', scope: 'local', capacity: op.cap, ...(byHandle ? { handle: ref('a', 's1') as number } : {}) }));
        break;
      }
      case 'abortable': {
        const o = OWNERS[op.owner] as { id: string };
        m.abortable.set(o.id, op.v);
        if (m.alive.has(o.id)) send(o.id, { type: 'owner', owner: o.id, abortable: op.v });
        continue;
      }
    } while (false);
    if (chunks && --chunkLeft > 0) continue; // the batch goes on
    chunkLeft = chunks?.[++chunkNo % chunks.length] ?? 1;
    batching = false;
    found.push(...flush());
    checkAndResolve(JSON.stringify(op));
  }
  // A history that ends inside a batch: that last batch is sent and checked too.
  if (pending.length > 0) {
    batching = false;
    found.push(...flush());
    checkAndResolve('the last batch');
  }

  function endOwner(id: string) {
    m.alive.delete(id);
    m.holds.delete(id);
    for (const k of [...m.reentries.keys()]) if (k.startsWith(`${id}\u0000`)) m.reentries.delete(k);
    m.waits = m.waits.filter((w) => w.owner !== id && w.res !== `task:${id}`);
  }

  /** After the events of `after` reached the engine: check every verdict, resolve as the SDK would. */
  function checkAndResolve(after: string): void {
    const after_ = after;
    // Soundness of each reported deadlock, then resolve it as the SDK would.
    const queue = found.splice(0);
    while (queue.length) {
      const d = queue.shift()!;
      // Resolving an earlier deadlock of this round may have ended this one (a member wait of it
      // ended when that victim unwound); the book then searched again, and what is still
      // deadlocked is later in the queue. An ended entry is never acted on.
      if (!engine.book.get(d.id)) continue;
      const stuck = stuckOwners(m);
      const members = d.members.map((x) => x.owner);
      for (const o of members) assert.ok(stuck.has(o), `false deadlock: ${o} is reported but can proceed (after ${after})\n${d.report.text}`);
      const victims = new Set(d.victims.map((v) => v.owner));
      // every blocked wait of a victim is aborted, so it can unwind
      for (const v of victims)
        assert.deepEqual(
          d.victims.filter((x) => x.owner === v).map((x) => x.waitId).sort(),
          m.waits.filter((w) => w.owner === v && !w.res.startsWith('__')).map((w) => w.id).filter((id) => d.waits.some((x) => x.waitId === id)).sort(),
          `victim ${v} keeps a blocked wait`,
        );
      if (victims.size > 0) {
        const after = stuckOwners(m, victims);
        for (const o of members) assert.ok(!after.has(o), `victims ${[...victims]} do not unblock ${o}\n${d.report.text}`);
        // The victim rule: a victim holds units of a resource some member waits for. An owner
        // that holds nothing the deadlock needs is aborted only when no set of aborts of owners
        // that do hold something resolves it.
        const needed = new Set(m.waits.filter((w) => members.includes(w.owner)).map((w) => w.res));
        // (a task "holds" its own end: a member waiting for task T to end needs T)
        const holdsNeed = (o: string) =>
          needed.has(`task:${o}`) || [...(m.holds.get(o) ?? new Map<string, number>())].some(([res, u]) => u > 0 && needed.has(res));
        const holders = new Set(members.filter((o) => holdsNeed(o) && (m.abortable.get(o) ?? true)));
        const emptyHanded = [...victims].filter((v) => !holdsNeed(v));
        if (emptyHanded.length > 0) {
          const withHolders = stuckOwners(m, holders);
          assert.ok(
            members.some((o) => withHolders.has(o)),
            `victim ${emptyHanded} holds nothing the deadlock needs, but aborting ${[...holders]} resolves it (after ${after_})\n${d.report.text}`,
          );
        }
        if (victims.size > 1)
          for (const single of emptyHanded.length > 0 ? members : [...holders])
            if (m.abortable.get(single) ?? true) {
              const one = stuckOwners(m, new Set([single]));
              assert.ok(members.some((x) => one.has(x)), `${victims.size} aborts where aborting ${single} alone would do`);
            }
        engine.beginResolution(d);
        for (const v of d.victims) {
          const w = m.waits.find((x) => x.id === v.waitId);
          assert.ok(w && w.owner === v.owner, 'victim wait is a pending wait of the victim');
          m.waits = m.waits.filter((x) => x !== w);
          queue.push(...send(v.owner, { type: 'cancel', waitId: v.waitId, reason: 'deadlock' }));
        }
        // then each victim unwinds (retryOnDeadlock ends its task)
        for (const v of victims)
          if (m.alive.has(v)) {
            endOwner(v);
            queue.push(...send(v, { type: 'end', owner: v }));
          }
      } else {
        // Unresolvable: even aborting every abortable member leaves someone stuck.
        const abortable = new Set(members.filter((o) => m.abortable.get(o) ?? true));
        const after = stuckOwners(m, abortable);
        assert.ok(members.some((o) => after.has(o)), `reported unresolvable, but aborting ${[...abortable]} resolves it\n${d.report.text}`);
      }
    }

    assertWaitingHoldersExact(engine.engine, after_);

    // Completeness.
    const sweep = engine.sweep();
    assert.equal(sweep.missed, 0, `sweep found a deadlock the incremental path missed (after ${after}):\n${sweep.found.map((d) => d.report.text).join('\n')}`);
    // Every stuck owner is stuck because of a deadlock the engine knows: with the members of
    // the known deadlocks imagined finished, nobody is stuck any more. (Owners merely queued
    // behind a deadlock are not members, so "every stuck owner is a member" would be wrong.)
    const known = new Set(engine.activeDeadlocks().flatMap((d) => d.members.map((x) => x.owner)));
    const unexplained = stuckOwners(m, known);
    assert.equal(unexplained.size, 0, `owners ${[...unexplained]} are stuck in no deadlock the engine knows (after ${after}); known members: ${[...known]}`);
  }
}

/**
 * The pre-filter trusts Resource.waitingHolders (engine.ts, mayBeOnCycle): one too few and a
 * deadlock through that resource is never searched for, one too many and every wait there is.
 * Counted here from the holders themselves, for every resource the engine has.
 */
function assertWaitingHoldersExact(engine: Engine, after: string): void {
  const resources = new Set<Resource>();
  for (const c of engine.clients.values()) {
    for (const r of c.resources.values()) resources.add(r);
    for (const o of c.owners.values()) if (o.taskResource) resources.add(o.taskResource);
  }
  for (const r of resources) {
    const counted = [...r.allHolds()].filter((h) => h.owner.waits.size > 0).length;
    assert.equal(r.waitingHolders, counted, `${r.key}: waitingHolders ${r.waitingHolders}, but ${counted} of its holders wait (after ${after})`);
  }
}

const RUNS = Number(process.env.ORACLE_RUNS ?? 1500);

/** Shrunk counterexamples fast-check found; each was a real bug, fixed since. They run every time. */
const REGRESSIONS: Op[][] = [
  // capacity cut below a pending request
  [{ op: 'grant', pick: 0 }, { op: 'abortable', owner: 0, v: false }, { op: 'wait', owner: 0, res: 1, k: 1 }, { op: 'cap', cap: 1 }, { op: 'hold', owner: 0, res: 0, k: 0 }],
  // a deadlock whose shape changes without a wait ending (a member releases a hold)
  [{ op: 'hold', owner: 0, res: 2, k: 1 }, { op: 'abortable', owner: 0, v: false }, { op: 'wait', owner: 0, res: 2, k: 0 }, { op: 'taskwait', owner: 0, target: 0 }, { op: 'release', pick: 0 }, { op: 'grant', pick: 0 }],
  // two victims chosen where one would do
  [{ op: 'hold', owner: 0, res: 1, k: 0 }, { op: 'wait', owner: 1, res: 1, k: 0 }, { op: 'wait', owner: 0, res: 1, k: 0 }, { op: 'wait', owner: 0, res: 0, k: 0 }, { op: 'taskwait', owner: 0, target: 0 }, { op: 'cap', cap: 1 }, { op: 'hold', owner: 0, res: 0, k: 0 }, { op: 'grant', pick: 0 }],
  // soft edge into the start's own FIFO queue
  [{ op: 'wait', owner: 2, res: 2, k: 0 }, { op: 'wait', owner: 0, res: 2, k: 1 }, { op: 'taskwait', owner: 2, target: 0 }, { op: 'wait', owner: 0, res: 0, k: 0 }, { op: 'wait', owner: 0, res: 0, k: 0 }, { op: 'wait', owner: 0, res: 0, k: 0 }, { op: 'hold', owner: 0, res: 0, k: 0 }, { op: 'cap', cap: 1 }],
  // a victim with two blocked waits: aborting one left a deadlock through the other
  [{ op: 'hold', owner: 0, res: 3, k: 0 }, { op: 'wait', owner: 1, res: 3, k: 0 }, { op: 'taskwait', owner: 1, target: 0 }, { op: 'taskwait', owner: 0, target: 1 }],
  // a grant on a shared lock to an owner blocked elsewhere closes a cycle
  [{ op: 'wait', owner: 0, res: 4, k: 0 }, { op: 'wait', owner: 1, res: 4, k: 1 }, { op: 'wait', owner: 0, res: 3, k: 0 }, { op: 'grant', pick: 16 }, { op: 'wait', owner: 1, res: 3, k: 0 }, { op: 'grant', pick: 0 }, { op: 'cancel', pick: 0 }, { op: 'wait', owner: 0, res: 0, k: 0 }, { op: 'cancel', pick: 0 }],
  // a victim that held nothing: c queues for rw1 exclusive ahead of b (who holds m1 and asks rw1
  // shared); a, holding rw1 shared, asks for m1. Aborting c alone resolves it, but c holds nothing
  // the deadlock needs (issue 8): a or b must be the victim
  [{ op: 'hold', owner: 0, res: 2, k: 0 }, { op: 'wait', owner: 2, res: 2, k: 1 }, { op: 'hold', owner: 1, res: 0, k: 0 }, { op: 'wait', owner: 1, res: 2, k: 0 }, { op: 'wait', owner: 0, res: 0, k: 0 }],
  // a late hold by an owner stuck elsewhere takes the last free unit of a semaphore whose waiter
  // holds its other unit: a deadlock of that waiter alone, not through the new holder
  [{ op: 'wait', owner: 0, res: 4, k: 0 }, { op: 'abortable', owner: 1, v: false }, { op: 'grant', pick: 0 }, { op: 'hold', owner: 1, res: 0, k: 0 }, { op: 'taskwait', owner: 1, target: 1 }, { op: 'wait', owner: 0, res: 4, k: 0 }, { op: 'hold', owner: 0, res: 0, k: 0 }, { op: 'hold', owner: 1, res: 4, k: 0 }, { op: 'taskwait', owner: 0, target: 0 }, { op: 'release', pick: 0 }, { op: 'wait', owner: 0, res: 0, k: 0 }],
];

test(`engine agrees with the oracle when events arrive in batches (${Math.ceil(RUNS / 3)} histories)`, { timeout: 600_000 }, () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }), (ops, chunks) =>
      runHistory(ops, chunks),
    ),
    { numRuns: Math.ceil(RUNS / 3), seed: process.env.ORACLE_SEED ? Number(process.env.ORACLE_SEED) : undefined },
  );
});

test(`resources named by handle agree with the oracle as by name (${Math.ceil(RUNS / 3)} batched histories)`, { timeout: 600_000 }, () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }), (ops, chunks) =>
      runHistory(ops, chunks, false, true),
    ),
    { numRuns: Math.ceil(RUNS / 3), seed: process.env.ORACLE_SEED ? Number(process.env.ORACLE_SEED) : undefined },
  );
});

test(`the search in slices (paused at every yield, then resumed) agrees with the oracle (${Math.ceil(RUNS / 3)} batched histories)`, { timeout: 600_000 }, () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }), (ops, chunks) =>
      runHistory(ops, chunks, true),
    ),
    { numRuns: Math.ceil(RUNS / 3), seed: process.env.ORACLE_SEED ? Number(process.env.ORACLE_SEED) : undefined },
  );
});

/** The same, found by the batched run: [ops, batch sizes]. */
const BATCHED_REGRESSIONS: [Op[], number[]][] = [
  // one batch makes two self-deadlocks, a's and b's, b also waiting for a's end: a's victim
  // unwinding ends b's wait on it, and b's first report is over; the one found anew is checked
  [[{ op: 'wait', owner: 0, res: 0, k: 0 }, { op: 'cancel', pick: 0 }, { op: 'taskwait', owner: 1, target: 0 }, { op: 'taskwait', owner: 0, target: 0 }, { op: 'cap', cap: 1 }, { op: 'taskwait', owner: 1, target: 1 }], [6]],
  // one batch makes a self-deadlock (c re-locks its mutex) and leaves b waiting for the
  // semaphore unit c holds: b is stuck only until c's victim unwinds, so b is no deadlock
  [
    [{ op: 'hold', owner: 1, res: 1, k: 1 }, { op: 'wait', owner: 2, res: 0, k: 0 }, { op: 'cap', cap: 3 }, { op: 'grant', pick: 0 }, { op: 'grant', pick: 0 }, { op: 'wait', owner: 2, res: 1, k: 0 }, { op: 'wait', owner: 2, res: 0, k: 0 }, { op: 'wait', owner: 1, res: 1, k: 0 }],
    [2],
  ],
];

test('oracle regressions (shrunk counterexamples of fixed bugs)', () => {
  for (const ops of REGRESSIONS) runHistory(ops);
  for (const [ops, chunks] of BATCHED_REGRESSIONS) runHistory(ops, chunks);
  // ORACLE_REPLAY: a counterexample as fast-check prints it, `[ops]` or (batched) `[ops, chunks]`
  if (process.env.ORACLE_REPLAY) {
    const [ops, chunks] = JSON.parse(process.env.ORACLE_REPLAY) as [Op[], number[]?];
    runHistory(ops, chunks);
  }
});

test(`engine agrees with a brute-force oracle on ${RUNS} random histories`, { timeout: 600_000 }, () => {
  fc.assert(fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => runHistory(ops)), {
    numRuns: RUNS,
    seed: process.env.ORACLE_SEED ? Number(process.env.ORACLE_SEED) : undefined,
  });
});
