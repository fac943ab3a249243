// Hazards from lock-order facts: scenario 10 and the nested pool checkout of scenario 4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientEvent } from '@deadlockd/proto';
import { Engine } from '../src/engine/index.js';

function setup() {
  const e = new Engine({ namespace: 'n' });
  e.addClient({ id: 'x', service: 'payments', instance: 'p-1' });
  e.addClient({ id: 'y', service: 'ledger', instance: 'l-1' });
  e.addClient({ id: 'z', service: 'payments', instance: 'p-2' });
  const decl: ClientEvent[] = [
    { type: 'resource', resource: 'acct:a', kind: 'mutex', scope: 'global' },
    { type: 'resource', resource: 'acct:b', kind: 'mutex', scope: 'global' },
    { type: 'resource', resource: 'acct:c', kind: 'mutex', scope: 'global' },
    { type: 'resource', resource: 'pool', kind: 'semaphore', scope: 'local', capacity: 4 },
  ];
  for (const c of ['x', 'y', 'z']) assert.deepEqual(e.applyBatch(c, decl).errors, []);
  const order = (c: string, held: string, acquired: string, stack?: string) =>
    e.applyBatch(c, [{ type: 'order', held, acquired, owner: 't', ...(stack ? { stack } : {}) }]);
  return { e, order };
}

test('scenario 10: A then B in one service, B then A in another → one cross-service hazard with both places', () => {
  const { e, order } = setup();
  assert.deepEqual(order('x', 'acct:a', 'acct:b', 'Error\n    at transfer (/app/pay.js:10:5)').hazards, []);
  const r = order('y', 'acct:b', 'acct:a', 'Error\n    at settle (/app/ledger.js:20:7)');
  assert.equal(r.hazards.length, 1);
  const h = r.hazards[0]!;
  assert.equal(h.kind, 'lock-order-inversion');
  assert.deepEqual(h.classes, ['acct:a', 'acct:b']);
  assert.equal(h.crossService, true);
  assert.deepEqual(h.sites.map((s) => [s.service, s.from, s.to]), [['payments', 'acct:a', 'acct:b'], ['ledger', 'acct:b', 'acct:a']]);
  assert.match(h.text, /cycle: acct:a -> acct:b -> acct:a/);
  assert.match(h.text, /at transfer \(\/app\/pay\.js:10:5\)/);
  assert.match(h.text, /at settle \(\/app\/ledger\.js:20:7\)/);
  // Deduplicated: the same inversion seen again updates counts, no new hazard.
  assert.deepEqual(order('y', 'acct:b', 'acct:a').hazards, []);
  assert.equal(e.lockOrder.size, 1);
  // Another instance of a known place adds a site and re-announces.
  const more = order('z', 'acct:a', 'acct:b');
  assert.equal(more.hazards.length, 1);
  assert.equal(more.hazards[0]!.sites.length, 3);
  assert.equal(e.lockOrder.list()[0]!.sites.find((s) => s.service === 'ledger')!.count, 2);
});

test('a three-class cycle is found, and its id does not depend on the class it was entered at', () => {
  const a = setup();
  a.order('x', 'acct:a', 'acct:b');
  a.order('x', 'acct:b', 'acct:c');
  const h1 = a.order('y', 'acct:c', 'acct:a').hazards[0]!;
  const b = setup();
  b.order('x', 'acct:b', 'acct:c');
  b.order('y', 'acct:c', 'acct:a');
  const h2 = b.order('x', 'acct:a', 'acct:b').hazards[0]!;
  assert.equal(h1.id, h2.id);
  assert.deepEqual(h1.classes, ['acct:a', 'acct:b', 'acct:c']);
});

test('consistent order everywhere is no hazard', () => {
  const { e, order } = setup();
  order('x', 'acct:a', 'acct:b');
  order('y', 'acct:a', 'acct:b');
  order('z', 'acct:b', 'acct:c');
  assert.equal(e.lockOrder.size, 0);
});

test('nested pool checkout is a hazard the first time, at concurrency 1', () => {
  const { order } = setup();
  const r = order('x', 'pool', 'pool', 'Error\n    at helper (/app/db.js:5:3)');
  assert.equal(r.hazards.length, 1);
  const h = r.hazards[0]!;
  assert.equal(h.kind, 'nested-pool-checkout');
  assert.deepEqual(h.classes, ['payments:pool']);
  assert.match(h.text, /asked for payments:pool while already holding it \(capacity 4\)/);
  assert.match(h.text, /at helper/);
});

test('order events naming undeclared resources are rejected', () => {
  const { order } = setup();
  assert.deepEqual(order('x', 'nope', 'acct:a').errors.map((x) => x.code), ['UNKNOWN_RESOURCE']);
});
