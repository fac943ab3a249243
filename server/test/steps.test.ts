// The search's pausable building blocks (engine/steps.ts): sortSteps is Array.prototype.sort
// (stable) run in steps, whatever the input and however often it pauses; the filter, find,
// some, set and dedupe helpers answer what Array and Set answer, pausing every STEP items.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { filterSteps, findSteps, runToEnd, runUntil, setSteps, someSteps, sortSteps, STEP, uniqueSteps, type Steps } from '../src/engine/steps.js';

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

/** Runs `s` pausing at every yield: its value and how many times it paused. */
function pausing<T>(s: Steps<T>): { value: T; pauses: number } {
  let pauses = 0;
  for (;;) {
    const r = runUntil(s, () => true);
    if (r.done) return { value: r.value, pauses };
    pauses++;
  }
}

test('filterSteps, findSteps, someSteps, setSteps and uniqueSteps answer as Array and Set do', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: STEP * 4 }), fc.integer({ min: 0, max: 40 }), (xs, t) => {
      const keep = (x: number): boolean => x % 3 === t % 3;
      assert.deepEqual(pausing(filterSteps(xs, keep)).value, xs.filter(keep));
      assert.equal(pausing(findSteps(xs, (x) => x === t)).value, xs.find((x) => x === t));
      assert.equal(pausing(someSteps(xs, (x) => x > t)).value, xs.some((x) => x > t));
      assert.deepEqual([...pausing(setSteps(xs)).value], [...new Set(xs)]);
      const unique = pausing(uniqueSteps(xs)).value;
      assert.deepEqual(unique, [...new Set(xs)]);
      assert.notEqual(unique, xs, 'a new array, never the input itself');
    }),
    { numRuns: 80 },
  );
});

test('the helpers pause at least every STEP items on a big input (a 30k ring is no one long step)', () => {
  const n = 30_000;
  const xs = Array.from({ length: n }, (_, i) => i);
  const atLeast = Math.floor(n / STEP) - 1;
  for (const [name, s] of [
    ['filterSteps', filterSteps(xs, () => true)],
    ['findSteps', findSteps(xs, () => false)],
    ['someSteps', someSteps(xs, () => false)],
    ['setSteps', setSteps(xs)],
    ['uniqueSteps', uniqueSteps(xs)],
  ] as [string, Steps<unknown>][]) {
    const { pauses } = pausing(s);
    assert.ok(pauses >= atLeast, `${name} paused ${pauses} times over ${n} items (at least ${atLeast})`);
  }
});
