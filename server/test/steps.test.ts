// The search's pausable building blocks (engine/steps.ts): sortSteps is Array.prototype.sort
// (stable) run in steps, whatever the input and however often it pauses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runToEnd, runUntil, sortSteps, STEP } from '../src/engine/steps.js';

const byKey = (a: { k: number }, b: { k: number }): number => a.k - b.k;

test('sortSteps orders as a stable sort does, for inputs below and far above one step', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: STEP * 5 }), (ks) => {
      // equal keys keep their input order: `i` tells them apart
      const items = ks.map((k, i) => ({ k, i }));
      const sorted = runToEnd(sortSteps(items, byKey));
      assert.deepEqual(sorted, [...items].sort(byKey));
      assert.equal(items.length, ks.length, 'the input is left as it was');
    }),
    { numRuns: 60 },
  );
});

test('sortSteps pauses on a big input and ends with the same order', () => {
  const items = Array.from({ length: 30_000 }, (_, i) => `k${(i * 7919) % 30_000}`);
  const s = sortSteps(items, (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let pauses = 0;
  for (;;) {
    const r = runUntil(s, () => true);
    if (r.done) {
      assert.deepEqual(r.value, [...items].sort());
      break;
    }
    pauses++;
  }
  // ~15 passes of 30,000 moves, a pause every STEP comparisons
  assert.ok(pauses > 100, `paused ${pauses} times`);
});
