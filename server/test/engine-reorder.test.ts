// Soft deadlocks resolved by reordering a FIFO queue (PostgreSQL's rule), and the hand-off of a
// victim's units to the cycle's members. Only for clients that announced the `reorder` feature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientEvent } from '@deadlockd/proto';
import type { Deadlock } from '../src/engine/index.js';
import { BookedEngine, oneClientEngine } from './booked-engine.js';

const setup = (reorder = true) => oneClientEngine({ reorder });
const rw = (name: string): ClientEvent => ({ type: 'resource', resource: name, kind: 'rwlock', scope: 'local' });
const mutex = (name: string): ClientEvent => ({ type: 'resource', resource: name, kind: 'mutex', scope: 'local' });

/** PostgreSQL's deadlock-soft: d1, d2 share a1, a2; e1, e2 queue exclusive; d1, d2 then ask shared. */
function deadlockSoft(reorder: boolean): { d: Deadlock | undefined; engine: BookedEngine; send: ReturnType<typeof setup>['send'] } {
  const { engine, send } = setup(reorder);
  send(rw('a1'), rw('a2'));
  send({ type: 'hold', owner: 'd1', resource: 'a1', mode: 'shared' }, { type: 'hold', owner: 'd2', resource: 'a2', mode: 'shared' });
  send({ type: 'wait', waitId: 'e1l', owner: 'e1', resource: 'a1', mode: 'exclusive' }, { type: 'wait', waitId: 'e2l', owner: 'e2', resource: 'a2', mode: 'exclusive' });
  assert.equal(send({ type: 'wait', waitId: 'd1a2', owner: 'd1', resource: 'a2', mode: 'shared' }).deadlocks.length, 0);
  const r = send({ type: 'wait', waitId: 'd2a1', owner: 'd2', resource: 'a1', mode: 'shared' });
  assert.ok(r.deadlocks.length <= 1);
  return { d: r.deadlocks[0], engine, send };
}

test('deadlock-soft: one queue move resolves it, nobody is aborted', () => {
  const { d, engine } = deadlockSoft(true);
  assert.ok(d, 'the soft deadlock is found');
  assert.deepEqual(d.victims, []);
  assert.equal(d.report.resolution, 'reordering');
  assert.equal(d.reorders.length, 1);
  const m = d.reorders[0]!;
  assert.ok((m.resource === 'a1' && m.waits[0] === 'd2a1') || (m.resource === 'a2' && m.waits[0] === 'd1a2'), JSON.stringify(m));
  assert.match(d.report.text, /moved to the front of the queue/);
  engine.engine.applyReorders(d);
  // with the move applied in the engine's view, the whole graph holds no deadlock
  assert.equal(engine.engine.sweep().length, 0);
});

test('deadlock-soft for a client without the reorder feature: an abort, as before', () => {
  const { d } = deadlockSoft(false);
  assert.ok(d);
  assert.equal(d.reorders.length, 0);
  assert.equal(d.victims.length, 1);
});

test('a hard cycle is never "resolved" by a reorder; the victim hands its lock to the survivor', () => {
  const { send } = setup(true);
  send(mutex('a'), mutex('b'));
  send({ type: 'owner', owner: 'ha', startedAt: 1 }, { type: 'owner', owner: 'hb', startedAt: 2 });
  send({ type: 'hold', owner: 'ha', resource: 'a' }, { type: 'hold', owner: 'hb', resource: 'b' });
  for (let i = 0; i < 5; i++) send({ type: 'owner', owner: `qb${i}`, startedAt: 10 + i }, { type: 'wait', waitId: `wqb${i}`, owner: `qb${i}`, resource: 'b' });
  send({ type: 'wait', waitId: 'wa', owner: 'ha', resource: 'b' });
  const d = send({ type: 'wait', waitId: 'wb', owner: 'hb', resource: 'a' }).deadlocks[0]!;
  assert.deepEqual(d.victims.map((v) => v.owner), ['hb']);
  // b, which the victim gives back, goes to ha first, not to the five queued ahead of it
  assert.deepEqual(d.reorders, [{ client: 'c1', resource: 'b', waits: ['wa'] }]);
});
