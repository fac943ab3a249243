import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conformanceSuites } from '../src/conformance.js';
import { ClientFrame, CLIENT_FRAME_TYPES, ServerFrame } from '../src/index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'conformance');
const stored = (name: string): unknown => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));

test('checked-in conformance/*.json match the generator (run `npm run gen:conformance` if not)', () => {
  const fresh = JSON.parse(JSON.stringify(conformanceSuites()));
  assert.deepEqual(stored('daemon'), fresh.daemon);
  assert.deepEqual(stored('sdk'), fresh.sdk);
});

test('daemon vectors send every client frame type, valid and invalid', () => {
  const { daemon } = conformanceSuites();
  const sent = daemon.vectors.flatMap((v) => v.send).flatMap((s) => ('frame' in s ? [s.frame as { type: string }] : []));
  for (const type of CLIENT_FRAME_TYPES) assert.ok(sent.some((f) => f.type === type), `a vector sends '${type}'`);
  assert.ok(sent.some((f) => !ClientFrame.safeParse(f).success), 'some frames are invalid on purpose');
  assert.ok(ClientFrame.safeParse(daemon.barrier).success);
});

test('SDK vectors send every daemon frame type the SDK must handle', () => {
  const { sdk } = conformanceSuites();
  const types = new Set(sdk.vectors.flatMap((v) => [v.welcome, ...v.send]).map((f) => f.type));
  for (const type of ServerFrame.options.map((o) => o.shape.type.value)) assert.ok(types.has(type), `a vector sends '${type}'`);
});
