// Bad input on /v1/stream: each error code, its close code when fatal, and a
// second healthy client on the same daemon that keeps working with its graph untouched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '@deadlockd/proto';
import { connectClient, ev, eventually, startTestDaemon, TestClient, type TestDaemon } from './helpers.js';

const MAX_FRAME = 1024;
const MAX_EVENTS = 10;
const hello = (extra: Record<string, unknown> = {}) => ({ type: 'hello', protocol: PROTOCOL_VERSION, service: 'bad', instance: 'bad-1', ...extra });

interface BadCase {
  code: string;
  /** send hello first and wait for welcome */
  afterHello: boolean;
  payload: () => string | Buffer | object;
  binary?: boolean;
  closeCode: number;
}

const cases: Record<string, BadCase> = {
  'malformed JSON → BAD_JSON': { code: 'BAD_JSON', afterHello: true, payload: () => '{"type":"events",', closeCode: 1008 },
  'valid JSON with an unknown type → UNKNOWN_FRAME_TYPE': { code: 'UNKNOWN_FRAME_TYPE', afterHello: true, payload: () => ({ type: 'subscribe' }), closeCode: 1008 },
  'schema violation → BAD_FRAME': {
    code: 'BAD_FRAME',
    afterHello: true,
    payload: () => ({ type: 'events', seq: 3, events: [ev.owner('a'), { type: 'wait', owner: 'a', resource: 'm' }] }),
    closeCode: 1008,
  },
  'binary frame → BAD_FRAME': { code: 'BAD_FRAME', afterHello: true, payload: () => Buffer.from(JSON.stringify(hello())), binary: true, closeCode: 1008 },
  'a frame one byte over the limit → FRAME_TOO_LARGE': {
    code: 'FRAME_TOO_LARGE',
    afterHello: true,
    payload: () => JSON.stringify({ type: 'events', seq: 1, events: [], pad: 'x'.repeat(MAX_FRAME) }).slice(0, MAX_FRAME + 1),
    closeCode: 1009,
  },
  'events before hello → HELLO_REQUIRED': { code: 'HELLO_REQUIRED', afterHello: false, payload: () => ({ type: 'events', seq: 0, events: [] }), closeCode: 1008 },
  'a second hello → DUPLICATE_HELLO': { code: 'DUPLICATE_HELLO', afterHello: true, payload: () => hello(), closeCode: 1008 },
  'unsupported protocol version → PROTOCOL_VERSION': { code: 'PROTOCOL_VERSION', afterHello: false, payload: () => hello({ protocol: PROTOCOL_VERSION + 98 }), closeCode: 1008 },
  'more events than allowed → TOO_MANY_EVENTS': {
    code: 'TOO_MANY_EVENTS',
    afterHello: true,
    payload: () => ({ type: 'events', seq: 7, events: Array.from({ length: MAX_EVENTS + 1 }, (_, i) => ev.owner(`o${i}`)) }),
    closeCode: 1008,
  },
};

describe('bad input on /v1/stream', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ maxFrameBytes: MAX_FRAME, maxEventsPerFrame: MAX_EVENTS, disconnectGraceMs: 0 });
  });
  after(() => daemon.close());

  const graph = () => daemon.app.deadlockd.hub.stats().namespaces['default']?.graph;

  /** A healthy client holding a mutex, connected while the bad one misbehaves. */
  async function healthyClient(): Promise<TestClient> {
    // clients of earlier tests are gone (grace 0), so the graph holds only what this test builds
    await eventually(() => daemon.app.deadlockd.hub.stats().clients === 0, 'earlier clients removed');
    const { client } = await connectClient(daemon.wsUrl, { service: 'healthy' });
    client.send({ type: 'events', seq: 1, events: [ev.mutex('h-lock'), ev.owner('h'), ev.hold('h', 'h-lock')] });
    await client.barrier();
    return client;
  }

  async function assertHealthyUntouched(client: TestClient, before: unknown): Promise<void> {
    await eventually(() => daemon.app.deadlockd.hub.stats().clients === 1, 'the bad client removed');
    assert.deepEqual(graph(), before, 'the graph did not change');
    // still served: the release of its real hold is accepted (no error for seq 2), a bogus one is not
    client.send({ type: 'events', seq: 2, events: [ev.release('h', 'h-lock')] });
    await client.barrier();
    assert.equal(client.queued('error').length, 0, `no error for the healthy client: ${JSON.stringify(client.frames)}`);
    await client.close();
  }

  for (const [name, c] of Object.entries(cases)) {
    it(name, async () => {
      const healthy = await healthyClient();
      const graphBefore = graph();
      const bad = c.afterHello ? (await connectClient(daemon.wsUrl, { service: 'bad' })).client : await TestClient.connect(daemon.wsUrl);
      const payload = c.payload();
      if (Buffer.isBuffer(payload)) bad.ws.send(payload, { binary: c.binary ?? false });
      else bad.send(payload);
      const err = await bad.next('error');
      assert.equal(err.code, c.code, err.message);
      assert.equal(err.fatal, true);
      assert.ok(err.message.length > 0);
      const closed = await bad.waitClosed();
      assert.equal(closed.code, c.closeCode);
      await assertHealthyUntouched(healthy, graphBefore);
    });
  }

  it('BAD_FRAME points at the offending event', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    client.send({ type: 'events', seq: 12, events: [ev.owner('a'), ev.owner('b'), { type: 'hold', owner: 'a' }] });
    const err = await client.next('error');
    assert.equal(err.code, 'BAD_FRAME');
    assert.deepEqual(err.ref, { seq: 12, index: 2 });
    assert.match(err.message, /events\.2\.resource/);
    await client.waitClosed();
  });

  it('a frame far over the limit is closed by ws with 1009', async () => {
    const healthy = await healthyClient();
    const graphBefore = graph();
    const { client } = await connectClient(daemon.wsUrl);
    client.send('x'.repeat(MAX_FRAME * 4));
    const closed = await client.waitClosed();
    assert.equal(closed.code, 1009);
    await assertHealthyUntouched(healthy, graphBefore);
  });

  it('releasing what is not held → NOT_HELD, and the connection stays open', async () => {
    const healthy = await healthyClient();
    const { client } = await connectClient(daemon.wsUrl);
    client.send({ type: 'events', seq: 5, events: [ev.mutex('m'), ev.owner('a'), ev.release('a', 'm'), ev.hold('a', 'm')] });
    const err = await client.next('error');
    assert.equal(err.code, 'NOT_HELD');
    assert.equal(err.fatal, false);
    assert.deepEqual(err.ref, { seq: 5, index: 2 });
    // the rest of the batch was applied: a's hold exists, so releasing it now succeeds
    client.send({ type: 'events', seq: 6, events: [ev.release('a', 'm')] });
    await client.barrier();
    assert.equal(client.queued('error').length, 0, JSON.stringify(client.frames));
    assert.equal(client.ws.readyState, client.ws.OPEN);
    await client.close();
    await healthy.close();
  });
});
