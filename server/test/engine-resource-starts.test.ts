// Fewer units of a resource left (a capacity decrease, a late hold, a grant to an owner blocked
// elsewhere) starts the search from the resource itself, not from each of its queued waiters
// (detect.ts, `waitersOnCycleThrough`; README.md, "When detection runs"), and a capacity
// decrease is checked against the queue's bound on the units asked for (model.ts, WaitQueue),
// not by a walk. The oracle test covers both on random histories; these are the shapes it
// rarely draws, and the queue bound's invariant checked after every event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ClientEvent } from '@deadlockd/proto';
import { Wait, WaitQueue, type Resource } from '../src/engine/model.js';
import { oneClientEngine } from './booked-engine.js';

const mutex = (name: string): ClientEvent => ({ type: 'resource', resource: name, kind: 'mutex', scope: 'local' });
const sem = (name: string, capacity: number): ClientEvent => ({ type: 'resource', resource: name, kind: 'semaphore', scope: 'local', capacity });

/**
 * M holds q, waits for x (held by a runner) and for one unit of the FIFO semaphore s; H holds
 * two units of s and waits for q. Nobody is stuck while s has a free unit. Cutting s's
 * capacity to 2 deadlocks M and H. The only waiter of s on the cycle is M, a queue-mate that
 * waits elsewhere too: the search from s starts at it without an edge into it, and must still
 * count it once the walk arrives at it again (through H's wait for q).
 */
function multiWaiterBehindHolder(extraStarts: number) {
  const { engine, send } = oneClientEngine();
  send(sem('s', 3), mutex('q'), mutex('x'));
  send({ type: 'hold', owner: 'H', resource: 's', units: 2 }, { type: 'hold', owner: 'M', resource: 'q' }, { type: 'hold', owner: 'Z', resource: 'x' });
  send({ type: 'wait', waitId: 'mx', owner: 'M', resource: 'x' }, { type: 'wait', waitId: 'ms', owner: 'M', resource: 's', units: 1 });
  assert.equal(send({ type: 'wait', waitId: 'hq', owner: 'H', resource: 'q' }).deadlocks.length, 0, 'no deadlock while s has a unit free');
  // unrelated waits in the same batch: more starts than SEPARATE_WALKS take the one-Tarjan-pass path
  const extra: ClientEvent[] = [];
  for (let i = 0; i < extraStarts; i++) extra.push(mutex(`e${i}`), { type: 'hold', owner: `eh${i}`, resource: `e${i}` }, { type: 'wait', waitId: `ew${i}`, owner: `ew${i}`, resource: `e${i}` });
  const r = send(...extra, sem('s', 2));
  assert.equal(r.deadlocks.length, 1, 'the capacity cut deadlocks M and H');
  assert.deepEqual(r.deadlocks[0]!.members.map((m) => m.owner).sort(), ['H', 'M']);
  assert.equal(engine.sweep().missed, 0);
}

test('a capacity decrease finds a deadlock whose waiter of the resource is a queue-mate waiting elsewhere (one walk)', () => {
  multiWaiterBehindHolder(0);
});

test('the same with more starts in the batch (one Tarjan pass, the resource a node of its own)', () => {
  multiWaiterBehindHolder(6);
});

test('a late hold and a grant to a blocked owner on a queue of holders find the one cycle among them', () => {
  // 2,000 waiters queue on the FIFO semaphore hot (2 units, each asks for both), each holding a
  // mutex nobody waits for but one, deep in the queue: y waits for its mutex, then takes a unit
  // of hot. Nobody ahead of q1500 can proceed now, so neither can q1500 nor y.
  for (const how of ['late hold', 'grant'] as const) {
    const { engine, send } = oneClientEngine();
    const ev: ClientEvent[] = [sem('hot', 2)];
    for (let i = 0; i < 2_000; i++) ev.push(mutex(`own${i}`), { type: 'hold', owner: `q${i}`, resource: `own${i}` }, { type: 'wait', waitId: `qw${i}`, owner: `q${i}`, resource: 'hot', units: 2 });
    send(...ev);
    send({ type: 'wait', waitId: 'yw', owner: 'y', resource: 'own1500' });
    const r =
      how === 'late hold'
        ? send({ type: 'hold', owner: 'y', resource: 'hot', units: 1 })
        : (send({ type: 'wait', waitId: 'yh', owner: 'y', resource: 'hot', units: 1 }), send({ type: 'grant', waitId: 'yh' }));
    assert.equal(r.deadlocks.length, 1, `${how}: q1500 waits for hot behind y's unit, y waits for q1500's mutex`);
    const members = r.deadlocks[0]!.members.map((m) => m.owner);
    assert.ok(members.includes('y') && members.includes('q1500'), how);
    assert.equal(members.length, 1_502, `${how}: y, q1500 and the 1,500 queued ahead of it`);
    assert.equal(engine.sweep().missed, 0, how);
  }
});

// ---- the queue's bound on units asked for ---------------------------------------------------

type QOp = { op: 'wait'; units: number } | { op: 'cancel'; pick: number } | { op: 'grant'; pick: number } | { op: 'cap'; cap: number };
const qop: fc.Arbitrary<QOp> = fc.oneof(
  fc.record({ op: fc.constant('wait' as const), units: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant('cancel' as const), pick: fc.nat(30) }),
  fc.record({ op: fc.constant('grant' as const), pick: fc.nat(30) }),
  fc.record({ op: fc.constant('cap' as const), cap: fc.integer({ min: 1, max: 5 }) }),
);

test('a queue of one is its wait, WaitQueue.maxUnits stays ≥ every queued request, and a capacity cut is refused exactly when a request would not fit', () => {
  fc.assert(
    fc.property(fc.array(qop, { minLength: 1, maxLength: 60 }), (ops) => {
      const { engine } = oneClientEngine();
      const apply = (e: ClientEvent) => engine.applyBatch('c1', [e]).errors;
      assert.deepEqual(apply(sem('s', 4)), []);
      let cap = 4;
      let n = 0;
      const pending = new Map<string, number>(); // waitId → units
      for (const o of ops) {
        if (o.op === 'wait') {
          const errs = apply({ type: 'wait', waitId: `w${++n}`, owner: `o${n}`, resource: 's', units: o.units });
          assert.equal(errs.length === 0, o.units <= cap);
          if (errs.length === 0) pending.set(`w${n}`, o.units);
        } else if (o.op === 'cap') {
          const errs = apply(sem('s', o.cap));
          const fits = [...pending.values()].every((u) => u <= o.cap);
          assert.equal(errs.length === 0, fits, `cap ${cap} → ${o.cap} with requests ${[...pending.values()]}`);
          if (fits) cap = o.cap;
          else assert.equal(errs[0]!.code, 'BAD_REQUEST_SIZE');
        } else if (pending.size > 0) {
          const id = [...pending.keys()][o.pick % pending.size]!;
          const units = pending.get(id)!;
          assert.deepEqual(apply(o.op === 'cancel' ? { type: 'cancel', waitId: id } : { type: 'grant', waitId: id }), []);
          pending.delete(id);
          // the grantee lets go at once: only the queue is under test
          if (o.op === 'grant') assert.deepEqual(apply({ type: 'release', owner: `o${id.slice(1)}`, resource: 's', units }), []);
        }
        const q = (engine.engine.findResource('c1:s') as Resource).queue;
        assert.equal(q.size, pending.size);
        // one wait that found the queue empty is the queue itself; from a second on, a WaitQueue
        // (which stays one when it is down to one again)
        if (q instanceof Wait) assert.equal(q.size, 1);
        else if (q.size > 0) {
          assert.ok(q instanceof WaitQueue, 'a queue that ever had two waits is a WaitQueue');
          for (const w of q) assert.ok(w.units <= q.maxUnits, `wait ${w.id} asks ${w.units} > bound ${q.maxUnits}`);
        }
      }
    }),
    { numRuns: 300 },
  );
});
