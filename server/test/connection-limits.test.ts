// What one SDK connection can make the daemon hold or do is bounded, and each
// bound answers with its documented error code and close code, and a metric:
// a client that never reads (SLOW_CONSUMER), one that never says hello
// (HELLO_TIMEOUT), more errors than the budget (ERRORS_SUPPRESSED), a snapshot
// whose last part never comes (SNAPSHOT_TIMEOUT), snapshots in flight on all
// connections together (SNAPSHOT_BUSY), a frame far over the size limit, bad UTF-8.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, ev, eventually, startTestDaemon, TestClient, type TestDaemon } from './helpers.js';

async function metric(daemon: TestDaemon, line: RegExp): Promise<number> {
  const text = await (await fetch(`${daemon.url}/metrics`)).text();
  const m = line.exec(text);
  return m ? Number(m[1]) : 0;
}

/** A batch of `n` releases of a mutex nobody holds: n NOT_HELD errors. */
const badBatch = (seq: number, n: number) => ({ type: 'events', seq, events: Array.from({ length: n }, () => ev.release('nobody', 'free')) });

describe('a client that does not read its frames', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ maxQueuedBytes: 64 * 1024, maxErrorFramesPerSecond: 1_000_000, disconnectGraceMs: 0 });
  });
  after(() => daemon.close());

  it('is cut off with SLOW_CONSUMER once its queue passes --max-queued-bytes; the daemon drops its socket and stays healthy', async () => {
    const { client } = await connectClient(daemon.wsUrl, { service: 'never-reads' });
    client.send({ type: 'events', seq: 0, events: [ev.mutex('free')] });
    client.ws.pause(); // stops reading: the kernel buffers fill, then ws's queue in the daemon
    const cut = /deadlockd_connections_cut_total\{reason="slow_consumer"\} (\d+)/;
    // Each batch queues ~1.5 MB of errors. The old daemon queued them all, without end.
    let seq = 1;
    const deadline = Date.now() + 30_000;
    while ((await metric(daemon, cut)) === 0) {
      assert.ok(Date.now() < deadline, 'the daemon never cut the client off');
      client.send(badBatch(seq++, 10_000));
    }
    assert.ok(daemon.logs.some((l) => l['msg'] === "client does not read its frames; cut off (SLOW_CONSUMER)"));
    await eventually(() => daemon.app.deadlockd.hub.stats().connectedClients === 0, 'the session detached');
    await eventually(() => daemon.app.websocketServer.clients.size === 0, 'the socket (and what ws queued for it) dropped');
    client.ws.terminate();
    const { client: healthy } = await connectClient(daemon.wsUrl, { service: 'healthy' });
    await healthy.barrier();
    await healthy.close();
  });
});

describe('error budget', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ maxErrorFramesPerSecond: 5, disconnectGraceMs: 0 });
  });
  after(() => daemon.close());

  it('sends --max-error-frames-per-second errors, then one ERRORS_SUPPRESSED with the count; the connection stays open', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    client.send({ type: 'events', seq: 0, events: [ev.mutex('free')] });
    client.send(badBatch(1, 50));
    const summary = await client.next('error', (e) => e.code === 'ERRORS_SUPPRESSED');
    assert.equal(summary.fatal, false);
    const errors = client.queued('error').filter((e) => e.type === 'error' && e.code === 'NOT_HELD');
    assert.ok(errors.length >= 5 && errors.length < 50, `a few NOT_HELD first, not all 50: ${errors.length}`);
    assert.match(summary.message, new RegExp(`^${50 - errors.length} error frame\\(s\\) were not sent`));
    assert.equal(await metric(daemon, /deadlockd_errors_suppressed_total (\d+)/), 50 - errors.length);
    assert.equal(client.ws.readyState, client.ws.OPEN);
    await client.close();
  });
});

describe('timeouts and shared budgets', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({
      // long enough for a loaded machine to deliver a hello sent right after the upgrade
      helloTimeoutMs: 1_000,
      snapshotTimeoutMs: 1_000,
      maxSnapshotEvents: 10,
      maxEventsPerFrame: 10,
      maxSnapshotEventsInFlight: 12,
      maxFrameBytes: 1024,
      disconnectGraceMs: 0,
    });
  });
  after(() => daemon.close());

  it('a connection that never sends hello is closed with HELLO_TIMEOUT (1008)', async () => {
    const client = await TestClient.connect(daemon.wsUrl);
    const err = await client.next('error');
    assert.equal(err.code, 'HELLO_TIMEOUT');
    assert.equal(err.fatal, true);
    assert.equal((await client.waitClosed()).code, 1008);
    assert.equal(await metric(daemon, /deadlockd_connections_cut_total\{reason="hello_timeout"\} (\d+)/), 1);
  });

  it('a welcomed connection is not timed out', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    await client.barrier();
    // well past the hello timeout, proven by a fresh unwelcomed connection timing out meanwhile
    const probe = await TestClient.connect(daemon.wsUrl);
    assert.equal((await probe.next('error')).code, 'HELLO_TIMEOUT');
    await client.barrier();
    assert.equal(client.ws.readyState, client.ws.OPEN);
    await client.close();
  });

  it("a snapshot whose last part never comes: SNAPSHOT_TIMEOUT (1008), and its parts are let go", async () => {
    const { client, welcome } = await connectClient(daemon.wsUrl);
    assert.equal(welcome.limits.snapshotTimeoutMs, 1_000);
    client.send({ type: 'snapshot', seq: 1, events: [ev.owner('a'), ev.mutex('m')], more: true });
    const err = await client.next('error');
    assert.equal(err.code, 'SNAPSHOT_TIMEOUT');
    assert.equal((await client.waitClosed()).code, 1008);
    assert.equal(await metric(daemon, /deadlockd_snapshot_events_in_flight (\d+)/), 0);
  });

  it('snapshots in flight on all connections together are bounded: SNAPSHOT_BUSY (1013) for the one over, the other completes', async () => {
    const { client: a } = await connectClient(daemon.wsUrl, { service: 'a' });
    const { client: b } = await connectClient(daemon.wsUrl, { service: 'b' });
    a.send({ type: 'snapshot', seq: 1, events: Array.from({ length: 8 }, (_, i) => ev.owner(`a${i}`)), more: true });
    const inFlight = /deadlockd_snapshot_events_in_flight (\d+)/;
    const deadline = Date.now() + 5_000;
    while ((await metric(daemon, inFlight)) !== 8) assert.ok(Date.now() < deadline, "a's first part is held");
    b.send({ type: 'snapshot', seq: 1, events: Array.from({ length: 5 }, (_, i) => ev.owner(`b${i}`)), more: true });
    const err = await b.next('error');
    assert.equal(err.code, 'SNAPSHOT_BUSY');
    assert.match(err.message, /--max-snapshot-events-in-flight \(12\)/);
    assert.equal((await b.waitClosed()).code, 1013);
    // a is untouched: its last part completes the snapshot
    a.send({ type: 'snapshot', seq: 2, events: [ev.owner('a8')] });
    await a.barrier();
    assert.deepEqual(a.queued('error'), []);
    assert.equal(daemon.app.deadlockd.hub.stats().namespaces['default']?.graph.owners, 9);
    assert.equal(await metric(daemon, inFlight), 0, 'an applied snapshot gives its share back');
    a.send({ type: 'snapshot', seq: 3, events: [ev.owner('x')], more: true });
    while ((await metric(daemon, inFlight)) !== 1) assert.ok(Date.now() < deadline + 5_000, "a's new part is held");
    await a.close();
    await eventually(() => daemon.app.deadlockd.hub.stats().clients === 0, 'both gone');
    assert.equal(await metric(daemon, /deadlockd_snapshot_events_in_flight (\d+)/), 0, 'a closed connection gives its share back');
  });

  it('a frame far over --max-frame-bytes: FRAME_TOO_LARGE error frame, then 1009', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    client.send('x'.repeat(1024 * 64));
    const err = await client.next('error');
    assert.equal(err.code, 'FRAME_TOO_LARGE');
    assert.match(err.message, /limit of 1024 bytes/);
    assert.equal((await client.waitClosed()).code, 1009);
    assert.ok((await metric(daemon, /deadlockd_errors_sent_total\{code="FRAME_TOO_LARGE"\} (\d+)/)) >= 1);
  });
});
