// Hold counts: a resource's held units are always the sum of its holders' units,
// whatever order holds, upgrades and releases come in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BookedEngine, oneClientEngine } from './booked-engine.js';
import { EXCLUSIVE } from '../src/engine/model.js';

const setup = () => oneClientEngine();

const heldSum = (engine: BookedEngine, key: string) => {
  const r = engine.engine.findResource(key)!;
  let sum = 0;
  for (const h of r.allHolds()) sum += h.units;
  return { held: r.held, sum, holders: [...r.holderOwners()].map((o) => o.id) };
};

test('an upgrade reported as a hold on top of a shared hold keeps held units exact (issue 15 item 2)', () => {
  const { engine, send } = setup();
  // What the SDK sends for an uncontended upgrade: shared hold, then exclusive hold by the same task,
  // then on release of the exclusive hold, the shared hold re-asserted.
  send({ type: 'resource', resource: 'cfg', kind: 'rwlock', scope: 'local' });
  send({ type: 'hold', owner: 't', resource: 'cfg', mode: 'shared' });
  send({ type: 'hold', owner: 't', resource: 'cfg', mode: 'exclusive' });
  let s = heldSum(engine, 'c1:cfg');
  assert.equal(s.held, s.sum, 'held equals the sum of the holds after the upgrade');
  send({ type: 'release', owner: 't', resource: 'cfg', mode: 'exclusive' });
  s = heldSum(engine, 'c1:cfg');
  assert.deepEqual(s, { held: 0, sum: 0, holders: [] }, 'nothing held, nobody holding');
  send({ type: 'hold', owner: 't', resource: 'cfg', mode: 'shared' });
  // A second reader, then the task upgrades again: it waits only for that reader. No deadlock.
  send({ type: 'hold', owner: 'r', resource: 'cfg', mode: 'shared' });
  const r = send({ type: 'wait', waitId: 'w1', owner: 't', resource: 'cfg', mode: 'exclusive' });
  assert.equal(r.deadlocks.length, 0, `false deadlock: ${r.deadlocks[0]?.report.text}`);
  // The reader leaves: the upgrade is grantable and granted.
  send({ type: 'release', owner: 'r', resource: 'cfg', mode: 'shared' }, { type: 'grant', waitId: 'w1' });
  s = heldSum(engine, 'c1:cfg');
  assert.equal(s.held, s.sum);
  assert.deepEqual(s.holders, ['t']);
});

test('a reentrant mutex counts re-acquisitions: held until the last release, and a re-lock is no deadlock', () => {
  const { engine, send } = setup();
  send({ type: 'resource', resource: 'm', kind: 'mutex', scope: 'local', reentrant: true });
  send({ type: 'hold', owner: 't', resource: 'm' }, { type: 'hold', owner: 't', resource: 'm' });
  assert.deepEqual(heldSum(engine, 'c1:m'), { held: 1, sum: 1, holders: ['t'] });
  // another owner waits; one release by t is not enough to let it in
  send({ type: 'wait', waitId: 'w', owner: 'u', resource: 'm' });
  send({ type: 'release', owner: 't', resource: 'm' });
  assert.deepEqual(heldSum(engine, 'c1:m'), { held: 1, sum: 1, holders: ['t'] });
  // t still holds it: waiting for it again is refused with a clear code (it is granted at once)
  const r = engine.applyBatch('c1', [{ type: 'wait', waitId: 'again', owner: 't', resource: 'm' }]);
  assert.equal(r.errors[0]?.code, 'BAD_REQUEST_SIZE');
  assert.match(r.errors[0]!.message, /reentrant/);
  assert.equal(r.deadlocks.length, 0);
  send({ type: 'release', owner: 't', resource: 'm' });
  assert.deepEqual(heldSum(engine, 'c1:m'), { held: 0, sum: 0, holders: [] });
  send({ type: 'grant', waitId: 'w' });
  assert.deepEqual(heldSum(engine, 'c1:m').holders, ['u']);
  // a third release is one too many
  send({ type: 'release', owner: 'u', resource: 'm' });
  assert.equal(engine.applyBatch('c1', [{ type: 'release', owner: 'u', resource: 'm' }]).errors[0]?.code, 'NOT_HELD');
});

test('the non-reentrant default stays a deadlock of one', () => {
  const { send } = setup();
  send({ type: 'resource', resource: 'm', kind: 'mutex', scope: 'local' }, { type: 'hold', owner: 't', resource: 'm' });
  assert.equal(send({ type: 'wait', waitId: 'w', owner: 't', resource: 'm' }).deadlocks.length, 1);
});

test('a reentrant rwlock: read re-entry, write-then-read and the downgrade keep exact units', () => {
  const { engine, send } = setup();
  send({ type: 'resource', resource: 'rw', kind: 'rwlock', scope: 'local', reentrant: true });
  send({ type: 'hold', owner: 't', resource: 'rw', mode: 'shared' }, { type: 'hold', owner: 't', resource: 'rw', mode: 'shared' });
  assert.equal(heldSum(engine, 'c1:rw').held, 1, 'two shared acquisitions, one unit');
  // a writer queues; t's third shared acquisition would be granted at once (reentrant): refused as a wait
  send({ type: 'wait', waitId: 'wx', owner: 'x', resource: 'rw', mode: 'exclusive' });
  assert.equal(engine.applyBatch('c1', [{ type: 'wait', waitId: 'ws', owner: 't', resource: 'rw', mode: 'shared' }]).errors[0]?.code, 'BAD_REQUEST_SIZE');
  send({ type: 'release', owner: 't', resource: 'rw', mode: 'shared' }, { type: 'release', owner: 't', resource: 'rw', mode: 'shared' });
  send({ type: 'grant', waitId: 'wx' });
  // x writes, then reads (write holders may take the read lock), then releases the write: a downgrade
  send({ type: 'hold', owner: 'x', resource: 'rw', mode: 'shared' });
  assert.equal(heldSum(engine, 'c1:rw').held, EXCLUSIVE);
  send({ type: 'release', owner: 'x', resource: 'rw', mode: 'exclusive' });
  assert.deepEqual(heldSum(engine, 'c1:rw'), { held: 1, sum: 1, holders: ['x'] });
  // now a reader is not blocked by x
  send({ type: 'hold', owner: 'r', resource: 'rw', mode: 'shared' });
  assert.equal(heldSum(engine, 'c1:rw').held, 2);
  send({ type: 'release', owner: 'x', resource: 'rw', mode: 'shared' }, { type: 'release', owner: 'r', resource: 'rw', mode: 'shared' });
  assert.deepEqual(heldSum(engine, 'c1:rw'), { held: 0, sum: 0, holders: [] });
});

test('reentrant is declared once: a second declaration that disagrees is a conflict; a semaphore cannot be reentrant', () => {
  const { engine, send } = setup();
  send({ type: 'resource', resource: 'm', kind: 'mutex', scope: 'local', reentrant: true });
  assert.equal(engine.applyBatch('c1', [{ type: 'resource', resource: 'm', kind: 'mutex', scope: 'local', reentrant: false }]).errors[0]?.code, 'RESOURCE_CONFLICT');
  assert.equal(engine.applyBatch('c1', [{ type: 'resource', resource: 's', kind: 'semaphore', scope: 'local', capacity: 2, reentrant: true }]).errors[0]?.code, 'BAD_REQUEST_SIZE');
});
