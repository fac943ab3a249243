// CountedHistogram (counted-histogram.ts) must expose exactly what prom-client's Histogram does
// for the same observations: same buckets, cumulative counts, sum and count, same text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { CountedHistogram } from '../src/counted-histogram.js';

const BUCKETS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1];

test('CountedHistogram exposes the same text as prom-client Histogram for the same observations', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), fc.constantFrom(...BUCKETS, 0)), { maxLength: 200 }), async (xs) => {
      const theirs = new Registry();
      const ours = new Registry();
      const h = new Histogram({ name: 'x_seconds', help: 'h', buckets: BUCKETS, registers: [theirs] });
      const c = new CountedHistogram('x_seconds', 'h', BUCKETS, ours);
      for (const x of xs) {
        h.observe(x);
        c.observe(x);
      }
      assert.equal(await ours.metrics(), await theirs.metrics());
    }),
    { numRuns: 100 },
  );
});

test('CountedHistogram.reset starts it over', async () => {
  const r = new Registry();
  const c = new CountedHistogram('y_seconds', 'h', BUCKETS, r);
  c.observe(0.5);
  c.reset();
  assert.match(await r.metrics(), /^y_seconds_count 0$/m);
});
