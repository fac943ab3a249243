// packed-time.ts stores timestamps as small integers where it can; every value must come back
// exactly, and the daemon's own clock readings must take the small-integer form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { packTime, unpackTime } from '../src/engine/packed-time.js';

test('any timestamp round-trips exactly: integers, fractions, 0, far past and far future', () => {
  const now = Date.now();
  const stamps = fc.oneof(
    fc.double({ min: 0, max: 1e15, noNaN: true, noDefaultInfinity: true }),
    fc.integer({ min: -1e6, max: 3e9 }).map((d) => Math.max(0, now + d)),
    fc.constantFrom(0, now, now + 2 ** 31 - 1, now + 2 ** 31, now - 1, Number.MAX_VALUE),
  );
  fc.assert(fc.property(stamps, (ms) => Object.is(unpackTime(packTime(ms)), ms)), { numRuns: 5_000 });
  assert.equal(unpackTime(packTime(-0)), 0); // JSON.parse('-0'): time 0, not the base
});

test("the daemon's own clock readings pack to 31-bit integers (no heap number per timestamp)", () => {
  for (const ms of [Date.now(), Date.now() + 1, Date.now() + 86_400_000]) {
    const p = packTime(ms);
    assert.ok(Number.isInteger(p) && p >= 0 && p < 2 ** 31, `${ms} packed to ${p}`);
  }
  // a client's fractional time and one before the base keep the exact (negated) form
  assert.ok(packTime(Date.now() + 0.5) < 0);
  assert.ok(packTime(1000) < 0);
});
