// The hold index changes representation with its size (nothing, the Hold
// itself, an array, a Map and back). The engine's oracle test rarely has more
// than a few holders per resource, so this checks the index on its own against
// a plain Map, across every size boundary, with random adds and removes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { byOwner, byResource, findHold, holdCount, holdsIn, withHold, withoutHold, type HoldIndex, type KeyOf } from '../src/engine/hold-index.js';
import { HoldRecord, type Hold, type Owner, type Resource } from '../src/engine/model.js';

// Holds between 40 distinct owners and one resource (and the reverse), as plain
// objects: the index only ever compares them by identity.
const OWNERS = Array.from({ length: 40 }, (_, i) => ({ id: `o${i}` }) as unknown as Owner);
const RESOURCES = Array.from({ length: 40 }, (_, i) => ({ name: `r${i}` }) as unknown as Resource);
const THE_RESOURCE = { name: 'r' } as unknown as Resource;
const THE_OWNER = { id: 'o' } as unknown as Owner;

function holdsFor(keyOf: KeyOf): Hold[] {
  return keyOf === byOwner
    ? OWNERS.map((owner) => new HoldRecord(owner, THE_RESOURCE, 1, 0))
    : RESOURCES.map((resource) => new HoldRecord(THE_OWNER, resource, 1, 0));
}

for (const [name, keyOf] of [['holders by owner', byOwner], ['holds by resource', byResource]] as const) {
  test(`hold index (${name}) behaves as a Map through every size`, () => {
    const all = holdsFor(keyOf);
    let largest = 0;
    let shrunkFromMap = false;
    // Each run grows (adds), churns (random adds and removes), then shrinks
    // (removes), so the Map range and the way back down are both reached.
    // size 'max': fast-check's default size would cap arrays at ~10 steps.
    const index = fc.integer({ min: 0, max: all.length - 1 });
    const steps = fc
      .tuple(
        fc.array(index, { minLength: 10, maxLength: 60, size: 'max' }),
        fc.array(fc.tuple(fc.boolean(), index), { maxLength: 100, size: 'max' }),
        fc.array(index, { minLength: 10, maxLength: 200, size: 'max' }),
      )
      .map(([grow, churn, shrink]) => [...grow.map((i) => [true, i] as const), ...churn, ...shrink.map((i) => [false, i] as const)]);
    fc.assert(
      fc.property(steps, (steps) => {
        let ix: HoldIndex = undefined;
        let wasMap = false;
        const model = new Map<Owner | Resource, Hold>();
        for (const [add, i] of steps) {
          const h = all[i]!;
          const key = keyOf(h);
          if (add && !model.has(key)) {
            ix = withHold(ix, h, keyOf);
            model.set(key, h);
          } else if (!add) {
            ix = withoutHold(ix, h, keyOf);
            model.delete(key);
          }
          assert.equal(holdCount(ix), model.size);
          assert.deepEqual(new Set(holdsIn(ix)), new Set(model.values()));
          for (const x of all) assert.equal(findHold(ix, keyOf(x), keyOf), model.get(keyOf(x)));
          // the representation is the cheapest one for its size
          if (model.size === 0) assert.equal(ix, undefined);
          if (model.size === 1) assert.equal(ix, [...model.values()][0]);
          if (model.size >= 2 && model.size <= 4) assert.ok(Array.isArray(ix), `${model.size} holds in an array`);
          if (model.size > 8) assert.ok(ix instanceof Map);
          if (ix instanceof Map) wasMap = true;
          else if (wasMap && model.size <= 4) shrunkFromMap = true;
          largest = Math.max(largest, model.size);
        }
      }),
      { numRuns: 200 },
    );
    assert.ok(shrunkFromMap, 'no run shrank from a Map back to an array');
    assert.ok(largest > 16, `the runs reached ${largest} entries: the Map range was not exercised`);
  });
}

test('removing a hold that is not in the index changes nothing', () => {
  const [a, b, c] = holdsFor(byOwner);
  let ix = withHold(withHold(undefined, a!, byOwner), b!, byOwner);
  ix = withoutHold(ix, c!, byOwner);
  assert.deepEqual([...holdsIn(ix)], [a, b]);
  assert.equal(withoutHold(a, c!, byOwner), a);
});
