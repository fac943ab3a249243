// The deletes that replace a collection when its last member goes (collections.ts): the result
// holds exactly what a delete would have left, and the caller's collection is left alone when it
// is replaced (a loop over it still sees what it had).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { without, withoutKey } from '../src/collections.js';

test('without: the last member leaves a new empty set; any other leaves the same set less it', () => {
  const one = new Set(['a']);
  const emptied = without(one, 'a');
  assert.notEqual(emptied, one);
  assert.equal(emptied.size, 0);
  assert.deepEqual([...one], ['a'], 'the replaced set is not touched');
  const two = new Set(['a', 'b']);
  assert.equal(without(two, 'a'), two);
  assert.deepEqual([...two], ['b']);
  const other = new Set(['a']);
  assert.equal(without(other, 'z'), other, 'a value it does not hold changes nothing');
  assert.deepEqual([...other], ['a']);
});

test('withoutKey: the last key leaves a new empty map; any other leaves the same map less it', () => {
  const one = new Map([['a', 1]]);
  const emptied = withoutKey(one, 'a');
  assert.notEqual(emptied, one);
  assert.equal(emptied.size, 0);
  const two = new Map([['a', 1], ['b', 2]]);
  assert.equal(withoutKey(two, 'b'), two);
  assert.deepEqual([...two], [['a', 1]]);
  const other = new Map([['a', 1]]);
  assert.equal(withoutKey(other, 'z'), other);
  assert.equal(other.size, 1);
});
