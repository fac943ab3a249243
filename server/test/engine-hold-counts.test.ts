// Hold counts: a resource's held units are always the sum of its holders' units,
// whatever order holds, upgrades and releases come in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientEvent } from '@deadlockd/proto';
import { BookedEngine } from './booked-engine.js';

function setup() {
  let t = 1_000;
  const engine = new BookedEngine({ namespace: 'test', now: () => t++ });
  engine.addClient({ id: 'c1', service: 'svc', instance: 'i' });
  const send = (...events: ClientEvent[]) => {
    const r = engine.applyBatch('c1', events);
    assert.deepEqual(r.errors, [], `events rejected: ${JSON.stringify(r.errors)}`);
    return r;
  };
  return { engine, send };
}

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
