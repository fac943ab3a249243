// patternId (engine/hazards.ts) keeps its latest answers: whatever it remembers or forgets, the
// id is the hash of the parts, the same for the same parts and prefix, and another for another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { patternId } from '../src/engine/hazards.js';

const hashed = (prefix: string, parts: string[]): string => `${prefix}-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 10)}`;

test('patternId: the hash of the parts, remembered or not (more patterns than it keeps, and one too big to keep)', () => {
  const patterns = Array.from({ length: 600 }, (_, i) => [`svc waits for account:#, held by svc-${i}`, `svc-${i} waits for ledger, held by svc`]);
  patterns.push(['x'.repeat(10_000)]);
  for (let round = 0; round < 3; round++)
    for (const p of patterns) {
      assert.equal(patternId('DS', p), hashed('DS', p));
      assert.equal(patternId('HZ', p), hashed('HZ', p), 'the prefix is part of what is remembered');
    }
  assert.notEqual(patternId('DS', ['a', 'b']), patternId('DS', ['a', 'c']));
});
