// Resource.waitingHolders lives in the bits above the resource's flags (model.ts). The oracle
// (engine-oracle.test.ts) checks that graph.ts keeps it exact; this checks the packing itself:
// the count never disturbs the flags below it, and at its cap it stays there (the pre-filter
// then always searches through the resource: slower, never wrong).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resource } from '../src/engine/model.js';

const semaphore = (): Resource => new Resource({ scope: 'c1', name: 's', kind: 'semaphore', global: false, capacity: 5, fifo: true, label: 's' });

test('the count goes up and down without touching kind and flags', () => {
  const r = semaphore();
  r.reentrant = true;
  for (let i = 0; i < 1000; i++) r.holderStartsWaiting();
  assert.equal(r.waitingHolders, 1000);
  r.queueBySeq = false;
  for (let i = 0; i < 999; i++) r.holderStopsWaiting();
  assert.equal(r.waitingHolders, 1);
  assert.deepEqual([r.kind, r.fifo, r.reentrant, r.queueBySeq, r.global], ['semaphore', true, true, false, false]);
  r.holderStopsWaiting();
  assert.equal(r.waitingHolders, 0);
});

test('at its cap the count stays (conservative) and the flags stay intact', () => {
  const r = semaphore();
  const cap = 2 ** 24;
  for (let i = 0; i < cap + 10; i++) r.holderStartsWaiting();
  assert.equal(r.waitingHolders, cap);
  for (let i = 0; i < cap + 10; i++) r.holderStopsWaiting();
  assert.equal(r.waitingHolders, cap, 'a saturated count never goes back to 0');
  assert.deepEqual([r.kind, r.fifo, r.queueBySeq], ['semaphore', true, true]);
});
