// /metrics with auth on: a namespace's token sees its own namespace and
// nothing of the others (not even their names); the --metrics-token sees all;
// with auth off everything is visible as before.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, ev, startTestDaemon, type TestDaemon } from './helpers.js';
import { get } from './rest-helpers.js';

const T1 = 'metrics-ns1-token';
const T2 = 'metrics-ns2-token';
const ADMIN = 'metrics-admin-token';

describe('/metrics per namespace', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ tokens: { [T1]: 'team-one', [T2]: 'team-secret' }, metricsToken: ADMIN });
    // team-secret has a graph of 3 owners
    const { client } = await connectClient(daemon.wsUrl, { token: T2 });
    client.send({ type: 'events', seq: 1, events: [ev.mutex('m'), ev.owner('a'), ev.owner('b'), ev.owner('c'), ev.hold('a', 'm')] });
    await client.barrier();
    const { client: one } = await connectClient(daemon.wsUrl, { token: T1 });
    one.send({ type: 'events', seq: 1, events: [ev.owner('x')] });
    await one.barrier();
  });
  after(() => daemon.close());

  it("a namespace token sees its namespace's series, and neither the other namespace's name nor its sizes", async () => {
    const r = await get(daemon.url, '/metrics', T1);
    assert.equal(r.status, 200);
    assert.match(r.text, /deadlockd_owners\{namespace="team-one"\} 1/);
    assert.match(r.text, /deadlockd_clients_connected\{namespace="team-one"\} 1/);
    assert.match(r.text, /deadlockd_deadlocks_detected_total\{namespace="team-one"\} 0/);
    assert.doesNotMatch(r.text, /team-secret/);
    assert.doesNotMatch(r.text, /^(process|nodejs)_/m, 'process-wide series are for the metrics token');
  });

  it('the metrics token sees every namespace, and only /metrics', async () => {
    const r = await get(daemon.url, '/metrics', ADMIN);
    assert.equal(r.status, 200);
    assert.match(r.text, /deadlockd_owners\{namespace="team-secret"\} 3/);
    assert.match(r.text, /deadlockd_owners\{namespace="team-one"\} 1/);
    assert.match(r.text, /^nodejs_eventloop_lag_p99_seconds /m);
    // the deadlock counters, one series per namespace, each configured one there from the start
    assert.match(r.text, /^deadlockd_deadlocks_detected_total\{namespace="team-secret"\} 0$/m);
    assert.match(r.text, /^deadlockd_deadlocks_unresolvable_total\{namespace="team-one"\} 0$/m);
    assert.equal((await get(daemon.url, '/v1/stats', ADMIN)).status, 401);
  });
});

describe('/metrics with auth off', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
  });
  after(() => daemon.close());

  it('shows everything, the event-loop lag included', async () => {
    const r = await get(daemon.url, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.text, /^process_cpu_seconds_total \d/m);
    assert.match(r.text, /^process_resident_memory_bytes \d/m);
    assert.match(r.text, /^nodejs_eventloop_lag_max_seconds \d/m);
    assert.match(r.text, /^deadlockd_deadlocks_detected_total\{namespace="default"\} 0$/m);
  });
});
