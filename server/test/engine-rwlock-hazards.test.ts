// rwlock hazards and lock classes, as lockdep reasons (issue 8 item 6): reported from the first
// time, at concurrency 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientEvent } from '@deadlockd/proto';
import { Engine } from '../src/engine/index.js';

function setup(decl: ClientEvent[]) {
  const e = new Engine({ namespace: 'n' });
  e.addClient({ id: 'x', service: 'svc', instance: 'i-1' });
  assert.deepEqual(e.applyBatch('x', decl).errors, []);
  const order = (held: string, acquired: string, heldMode?: 'shared' | 'exclusive', mode?: 'shared' | 'exclusive') => {
    const r = e.applyBatch('x', [{ type: 'order', held, acquired, owner: 't', ...(heldMode ? { heldMode } : {}), ...(mode ? { mode } : {}) }]);
    assert.deepEqual(r.errors, []);
    return r.hazards;
  };
  return { e, order };
}

test('shared then exclusive on one rwlock by one owner: an upgrade hazard, the first time', () => {
  const { e, order } = setup([{ type: 'resource', resource: 'cfg', kind: 'rwlock', scope: 'local' }]);
  const hs = order('cfg', 'cfg', 'shared', 'exclusive');
  assert.equal(hs.length, 1);
  assert.equal(hs[0]!.kind, 'rwlock-upgrade');
  assert.deepEqual(hs[0]!.classes, ['svc:cfg']);
  assert.match(hs[0]!.text, /rwlock upgrade.*\n.*asked for svc:cfg exclusive while holding it shared/);
  assert.deepEqual(order('cfg', 'cfg', 'shared', 'exclusive'), [], 'seen again: counted, not announced');
  assert.equal(e.lockOrder.size, 1);
});

test('shared then shared on a writer-fair rwlock: a recursive-read hazard; not on a reentrant one; no modes: nothing (older SDKs)', () => {
  const { order } = setup([
    { type: 'resource', resource: 'fair', kind: 'rwlock', scope: 'local' },
    { type: 'resource', resource: 're', kind: 'rwlock', scope: 'local', reentrant: true },
  ]);
  const hs = order('fair', 'fair', 'shared', 'shared');
  assert.deepEqual(hs.map((h) => h.kind), ['recursive-read']);
  assert.match(hs[0]!.text, /a writer that queues between the two reads/);
  assert.deepEqual(order('re', 're', 'shared', 'shared'), []);
  assert.deepEqual(order('fair', 'fair'), []);
});

test('lock classes: two accounts nested are reported with their class at once; without classes only an inversion of one exact pair is', () => {
  const withClass = setup([
    { type: 'resource', resource: 'account:1', kind: 'mutex', scope: 'local', class: 'account' },
    { type: 'resource', resource: 'account:2', kind: 'mutex', scope: 'local', class: 'account' },
    { type: 'resource', resource: 'account:3', kind: 'mutex', scope: 'local', class: 'account' },
  ]);
  const hs = withClass.order('account:1', 'account:2');
  assert.deepEqual(hs.map((h) => [h.kind, h.classes]), [['same-class-nesting', ['svc:account']]]);
  assert.match(hs[0]!.text, /two locks of class svc:account nested/);
  assert.match(hs[0]!.text, /seen: account:1 then account:2/);
  // another pair of the class the other way round: the same hazard, now naming both nestings
  const again = withClass.order('account:3', 'account:1');
  assert.equal(again.length, 0, 'the same site: counted, not announced');
  assert.match(withClass.e.lockOrder.list()[0]!.text, /account:1 then account:2; account:3 then account:1/);

  const without = setup([
    { type: 'resource', resource: 'account:1', kind: 'mutex', scope: 'local' },
    { type: 'resource', resource: 'account:2', kind: 'mutex', scope: 'local' },
  ]);
  assert.deepEqual(without.order('account:1', 'account:2'), []);
  assert.deepEqual(without.order('account:2', 'account:1').map((h) => h.kind), ['lock-order-inversion']);
});
