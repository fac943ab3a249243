import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wireJsonSchema } from '../src/index.js';

const checkedIn = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema', 'wire.json');

test('checked-in schema/wire.json matches the zod schemas (run `npm run gen:schema` if not)', () => {
  const fresh = JSON.parse(JSON.stringify(wireJsonSchema()));
  const stored = JSON.parse(readFileSync(checkedIn, 'utf8'));
  assert.deepEqual(stored, fresh);
});
