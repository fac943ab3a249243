// Resource handles (proto ResourceEvent.handle): a connection names a declared resource by a
// small integer in waits, holds and releases. The same graph, the same deadlocks, the same
// errors as by name; a handle is the next unused one or one that already names the resource,
// and a snapshot (replaceClientState) starts the numbering again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BookedEngine, oneClientEngine } from './booked-engine.js';

test('waits, holds and releases by handle make the same deadlock as by name, reported by name', () => {
  const { engine, send } = oneClientEngine();
  send(
    { type: 'resource', resource: 'orders', kind: 'mutex', scope: 'local', handle: 0 },
    { type: 'resource', resource: 'stock', kind: 'mutex', scope: 'local', handle: 1 },
    { type: 'hold', owner: 'a', resource: 0 },
    { type: 'hold', owner: 'b', resource: 1 },
    { type: 'wait', waitId: 'wa', owner: 'a', resource: 1 },
  );
  // a name still works beside handles: b asks for `orders` by name
  const r = send({ type: 'wait', waitId: 'wb', owner: 'b', resource: 'orders' });
  assert.equal(r.deadlocks.length, 1, 'the cycle a -> stock -> b -> orders -> a is found');
  const text = r.deadlocks[0]!.report.text;
  assert.match(text, /orders/);
  assert.match(text, /stock/);
  // a release by handle frees the resource: after it and a cancel, nothing is held by a
  send({ type: 'cancel', waitId: 'wa' }, { type: 'release', owner: 'a', resource: 0 }, { type: 'grant', waitId: 'wb' });
  const orders = engine.engine.findResource('c1:orders')!;
  assert.deepEqual([...orders.holderOwners()].map((o) => o.id), ['b']);
});

test('a handle nobody declared is UNKNOWN_RESOURCE, and the rest of the batch applies', () => {
  const { engine, send } = oneClientEngine();
  send({ type: 'resource', resource: 'm', kind: 'mutex', scope: 'local', handle: 0 });
  const r = engine.applyBatch('c1', [
    { type: 'hold', owner: 't', resource: 5 },
    { type: 'hold', owner: 't', resource: 0 },
  ]);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.code, 'UNKNOWN_RESOURCE');
  assert.match(r.errors[0]!.message, /handle 5/);
  assert.deepEqual([...engine.engine.findResource('c1:m')!.holderOwners()].map((o) => o.id), ['t']);
  // a release that does not fit names the resource, not the handle
  const bad = engine.applyBatch('c1', [{ type: 'release', owner: 'u', resource: 0 }]);
  assert.equal(bad.errors[0]?.code, 'NOT_HELD');
  assert.match(bad.errors[0]!.message, /'m'/);
});

test('a handle is the next unused one or the one the resource has: skipping or rebinding is RESOURCE_CONFLICT', () => {
  const { engine, send } = oneClientEngine();
  send({ type: 'resource', resource: 'pool', kind: 'semaphore', scope: 'local', capacity: 2, handle: 0 });
  const skip = engine.applyBatch('c1', [{ type: 'resource', resource: 'x', kind: 'mutex', scope: 'local', handle: 2 }]);
  assert.equal(skip.errors[0]?.code, 'RESOURCE_CONFLICT');
  assert.match(skip.errors[0]!.message, /next unused handle on this connection is 1/);
  assert.equal(engine.engine.findResource('c1:x'), undefined, 'a refused declaration declares nothing');
  const rebind = engine.applyBatch('c1', [{ type: 'resource', resource: 'y', kind: 'mutex', scope: 'local', handle: 0 }]);
  assert.equal(rebind.errors[0]?.code, 'RESOURCE_CONFLICT');
  assert.match(rebind.errors[0]!.message, /handle 0 already names 'pool'/);
  assert.equal(engine.engine.findResource('c1:y'), undefined);
  // re-declaring with its own handle (a capacity change) is fine, and the handle still names it
  send({ type: 'resource', resource: 'pool', kind: 'semaphore', scope: 'local', capacity: 3, handle: 0 });
  assert.equal(engine.engine.findResource('c1:pool')!.capacity, 3);
  send({ type: 'hold', owner: 't', resource: 0, units: 3 });
  assert.equal(engine.engine.findResource('c1:pool')!.held, 3);
});

test('a declaration refused for another reason still uses up its handle: later ones stay in step', () => {
  let t = 1_000;
  const engine = new BookedEngine({ namespace: 'test', now: () => t++ });
  engine.addClient({ id: 'c1', service: 'svc', instance: 'i1' });
  engine.addClient({ id: 'c2', service: 'svc', instance: 'i2' });
  assert.deepEqual(engine.applyBatch('c1', [{ type: 'resource', resource: 'g', kind: 'mutex', scope: 'global' }]).errors, []);
  // c2 declares the shared `g` as an rwlock (refused: it is a mutex), then two more resources
  const r = engine.applyBatch('c2', [
    { type: 'resource', resource: 'g', kind: 'rwlock', scope: 'global', handle: 0 },
    { type: 'resource', resource: 'a', kind: 'mutex', scope: 'local', handle: 1 },
    { type: 'resource', resource: 'b', kind: 'mutex', scope: 'local', handle: 2 },
    { type: 'hold', owner: 't', resource: 2 },
    { type: 'hold', owner: 'u', resource: 0 },
  ]);
  assert.deepEqual(r.errors.map((e) => [e.index, e.code]), [[0, 'RESOURCE_CONFLICT'], [4, 'UNKNOWN_RESOURCE']]);
  assert.deepEqual([...engine.engine.findResource('c2:b')!.holderOwners()].map((o) => o.id), ['t'], 'handle 2 names b');
  // the used-up handle may still be given to the resource it was meant for, declared right
  const again = engine.applyBatch('c2', [{ type: 'resource', resource: 'g', kind: 'mutex', scope: 'global', handle: 0 }, { type: 'hold', owner: 'u', resource: 0 }]);
  assert.deepEqual(again.errors, []);
});

test('handles are per connection: two clients give one shared resource their own handles', () => {
  let t = 1_000;
  const engine = new BookedEngine({ namespace: 'test', now: () => t++ });
  engine.addClient({ id: 'c1', service: 'svc', instance: 'i1' });
  engine.addClient({ id: 'c2', service: 'svc', instance: 'i2' });
  const ok = (client: string, ...events: Parameters<BookedEngine['applyBatch']>[1]) => {
    const r = engine.applyBatch(client, events);
    assert.deepEqual(r.errors, []);
    return r;
  };
  ok('c1', { type: 'resource', resource: 'a', kind: 'mutex', scope: 'global', handle: 0 }, { type: 'resource', resource: 'b', kind: 'mutex', scope: 'global', handle: 1 });
  // c2 declares them in the other order: its handle 0 is b
  ok('c2', { type: 'resource', resource: 'b', kind: 'mutex', scope: 'global', handle: 0 }, { type: 'resource', resource: 'a', kind: 'mutex', scope: 'global', handle: 1 });
  ok('c1', { type: 'hold', owner: 'p', resource: 0 });
  ok('c2', { type: 'hold', owner: 'q', resource: 0 });
  ok('c1', { type: 'wait', waitId: 'w1', owner: 'p', resource: 1 });
  const r = ok('c2', { type: 'wait', waitId: 'w2', owner: 'q', resource: 1 });
  assert.equal(r.deadlocks.length, 1, 'p holds a, waits for b; q holds b, waits for a');
});

test('a snapshot replaces the handles with the rest of the state: numbering starts again at 0', () => {
  const { engine, send } = oneClientEngine();
  send({ type: 'resource', resource: 'old', kind: 'mutex', scope: 'local', handle: 0 }, { type: 'hold', owner: 't', resource: 0 });
  const r = engine.replaceClientState('c1', [
    { type: 'resource', resource: 'new', kind: 'mutex', scope: 'local', handle: 0 },
    { type: 'hold', owner: 'u', resource: 0 },
  ]);
  assert.deepEqual(r.errors, []);
  assert.equal(engine.engine.findResource('c1:old'), undefined);
  assert.deepEqual([...engine.engine.findResource('c1:new')!.holderOwners()].map((o) => o.id), ['u']);
  const stale = engine.applyBatch('c1', [{ type: 'hold', owner: 'v', resource: 1 }]);
  assert.equal(stale.errors[0]?.code, 'UNKNOWN_RESOURCE', 'handle 1 was given before the snapshot only');
});

test('handles are bounded by maxResourcesPerClient', () => {
  let t = 1_000;
  const engine = new BookedEngine({ namespace: 'test', now: () => t++, limits: { maxResourcesPerClient: 3 } });
  engine.addClient({ id: 'c1', service: 'svc', instance: 'i' });
  // one resource given three handles: the fourth is over the limit although only one resource exists
  const r = engine.applyBatch('c1', [0, 1, 2, 3].map((h) => ({ type: 'resource' as const, resource: 'm', kind: 'mutex' as const, scope: 'local' as const, handle: h })));
  assert.deepEqual(r.errors.map((e) => e.code), ['LIMIT_EXCEEDED']);
  assert.match(r.errors[0]!.message, /maxResourcesPerClient/);
  assert.equal(engine.applyBatch('c1', [{ type: 'hold', owner: 't', resource: 2 }]).errors.length, 0, 'handle 2 names m');
});
