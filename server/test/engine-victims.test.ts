// The victim rule (issue 8): a victim holds something the deadlock needs; owners only
// queued in a FIFO queue are never aborted when a holder can be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deadlock } from '../src/engine/index.js';
import { oneClientEngine } from './booked-engine.js';

const setup = () => oneClientEngine();

/** Opposite transfers with `queued` empty-handed waiters queued on `a` ahead of the cycle-closer. */
function transfersBehindAQueue(queued: number): Deadlock {
  const { send } = setup();
  send({ type: 'resource', resource: 'a', kind: 'mutex', scope: 'local' }, { type: 'resource', resource: 'b', kind: 'mutex', scope: 'local' });
  // ha, hb started first; the queued waiters are younger (youngest would pick them)
  send({ type: 'owner', owner: 'ha', startedAt: 1 }, { type: 'owner', owner: 'hb', startedAt: 2 });
  send({ type: 'hold', owner: 'ha', resource: 'a' }, { type: 'hold', owner: 'hb', resource: 'b' });
  for (let i = 0; i < queued; i++)
    send({ type: 'owner', owner: `q${i}`, startedAt: 10 + i }, { type: 'wait', waitId: `wq${i}`, owner: `q${i}`, resource: 'a' });
  assert.equal(send({ type: 'wait', waitId: 'wa', owner: 'ha', resource: 'b' }).deadlocks.length, 0);
  const r = send({ type: 'wait', waitId: 'wb', owner: 'hb', resource: 'a' });
  assert.equal(r.deadlocks.length, 1);
  return r.deadlocks[0] as Deadlock;
}

for (const queued of [1, 20, 200]) {
  test(`opposite transfers behind ${queued} queued waiter(s): one abort, of a holder`, () => {
    const d = transfersBehindAQueue(queued);
    assert.equal(d.victims.length, 1, `one abort, not ${d.victims.length}: ${d.victims.map((v) => v.owner)}`);
    assert.ok(['ha', 'hb'].includes(d.victims[0]!.owner), `the victim holds a lock the cycle needs, got ${d.victims[0]!.owner}`);
    assert.equal(d.victims[0]!.owner, 'hb', 'the younger of the two holders');
  });
}

test('an empty-handed member is aborted only when no holder may be', () => {
  // rw: a holds shared; c queues exclusive (holds nothing); b holds m and queues shared behind c;
  // a waits for m. Aborting c would resolve it, but c holds nothing: a or b goes.
  const { send } = setup();
  send({ type: 'resource', resource: 'rw', kind: 'rwlock', scope: 'local' }, { type: 'resource', resource: 'm', kind: 'mutex', scope: 'local' });
  send({ type: 'hold', owner: 'a', resource: 'rw', mode: 'shared' }, { type: 'wait', waitId: 'wc', owner: 'c', resource: 'rw', mode: 'exclusive' });
  send({ type: 'hold', owner: 'b', resource: 'm' }, { type: 'wait', waitId: 'wb', owner: 'b', resource: 'rw', mode: 'shared' });
  const d = send({ type: 'wait', waitId: 'wa', owner: 'a', resource: 'm' }).deadlocks[0]!;
  assert.ok(d, 'a deadlock');
  assert.equal(d.victims.length, 1);
  assert.notEqual(d.victims[0]!.owner, 'c');

  // The same with a and b not abortable: then c is the only way out, and it is taken.
  const e = setup();
  e.send({ type: 'resource', resource: 'rw', kind: 'rwlock', scope: 'local' }, { type: 'resource', resource: 'm', kind: 'mutex', scope: 'local' });
  e.send({ type: 'owner', owner: 'a', abortable: false }, { type: 'owner', owner: 'b', abortable: false });
  e.send({ type: 'hold', owner: 'a', resource: 'rw', mode: 'shared' }, { type: 'wait', waitId: 'wc', owner: 'c', resource: 'rw', mode: 'exclusive' });
  e.send({ type: 'hold', owner: 'b', resource: 'm' }, { type: 'wait', waitId: 'wb', owner: 'b', resource: 'rw', mode: 'shared' });
  const d2 = e.send({ type: 'wait', waitId: 'wa', owner: 'a', resource: 'm' }).deadlocks[0]!;
  assert.deepEqual(d2.victims.map((v) => v.owner), ['c']);
});

test('a report names the two-owner cycle and counts the 200 owners queued on it apart', () => {
  const d = transfersBehindAQueue(200);
  assert.equal(d.members.length, 202, 'the engine keeps every owner on the cycle (their waits end the deadlock too)');
  const r = d.report;
  assert.deepEqual(r.members.map((m) => m.owner).sort(), ['ha', 'hb']);
  assert.equal(r.queued?.count, 200);
  assert.deepEqual(r.queued?.owners, ['c1/q0', 'c1/q1', 'c1/q10', 'c1/q100', 'c1/q101']);
  // edges out of the two holders only: hard ones between them, one soft one to the nearest queued owner
  assert.ok(r.edges.every((e) => ['c1/ha', 'c1/hb'].includes(e.from)), JSON.stringify(r.edges));
  assert.deepEqual(r.edges.filter((e) => e.kind === 'soft').map((e) => [e.from, e.to]), [['c1/hb', 'c1/q199']]);
  assert.match(r.text, /task 'hb' \(svc\) waits for a, held by task 'ha' \(svc\), queued behind 200 queued owners \(FIFO\)/);
  assert.match(r.text, /queued: 200 owners .* c1\/q0, c1\/q1, c1\/q10, c1\/q100, c1\/q101 and 195 more/);
  assert.ok(r.text.length < 2_000, `a short report, not ${r.text.length} characters:\n${r.text}`);
});
