import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientFrame, ServerFrame, PROTOCOL_VERSION, ERROR_CODES, isFatal } from '../src/index.js';

test('a batch of events parses and keeps its order', () => {
  const frame = ClientFrame.parse({
    type: 'events',
    seq: 3,
    events: [
      { type: 'resource', resource: 'a', kind: 'mutex' },
      { type: 'wait', waitId: 'w1', owner: 't1', resource: 'a' },
      { type: 'grant', waitId: 'w1' },
      { type: 'release', owner: 't1', resource: 'a' },
    ],
  });
  assert.equal(frame.type, 'events');
  if (frame.type !== 'events') return;
  assert.deepEqual(frame.events.map((e) => e.type), ['resource', 'wait', 'grant', 'release']);
  const decl = frame.events[0];
  assert.ok(decl && decl.type === 'resource');
  assert.equal(decl.scope, 'local', 'scope defaults to local');
});

test('schema violations are rejected', () => {
  assert.equal(ClientFrame.safeParse({ type: 'hello', protocol: PROTOCOL_VERSION }).success, false);
  assert.equal(ClientFrame.safeParse({ type: 'events', seq: 1, events: [{ type: 'wait', owner: 'x' }] }).success, false);
  assert.equal(ClientFrame.safeParse({ type: 'events', seq: 1, events: [{ type: 'hold', owner: 'x', resource: 'r', units: 0 }] }).success, false);
  assert.equal(ClientFrame.safeParse({ type: 'nope' }).success, false);
});

test('server frames carry documented error codes only', () => {
  assert.equal(ServerFrame.safeParse({ type: 'error', code: 'BAD_JSON', message: 'x', fatal: true }).success, true);
  assert.equal(ServerFrame.safeParse({ type: 'error', code: 'SOMETHING_ELSE', message: 'x', fatal: true }).success, false);
  assert.equal(isFatal('BAD_JSON'), true);
  assert.equal(isFatal('NOT_HELD'), false);
  assert.ok(Object.keys(ERROR_CODES).length >= 10);
});

test('proto/README.md documents every error code', async () => {
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  for (const code of Object.keys(ERROR_CODES)) assert.match(readme, new RegExp('\\| `' + code + '` \\|'), code);
});
