// /metrics (Prometheus text) and /readyz, read after real traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, ev, startTestDaemon } from './helpers.js';

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  assert.ok(line, `metric ${name}${labels} is exposed`);
  return Number(line.split(' ')[1]);
}

test('metrics count events, deadlocks, aborts, errors and graph size; sweep misses stay 0', async () => {
  const d = await startTestDaemon();
  try {
    const { client } = await connectClient(d.wsUrl);
    client.send({
      type: 'events',
      seq: 1,
      events: [ev.mutex('a'), ev.mutex('b'), ev.hold('t1', 'a'), ev.hold('t2', 'b'), ev.wait('w1', 't1', 'b'), ev.wait('w2', 't2', 'a')],
    });
    const abort = await client.next('abort');
    client.send({ type: 'events', seq: 2, events: [ev.release('nobody', 'a')] }); // NOT_HELD
    await client.next('error', (e) => e.code === 'NOT_HELD');
    d.app.deadlockd.hub.sweep();

    const res = await fetch(`${d.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.equal(metric(text, 'deadlockd_events_received_total'), 7);
    assert.equal(metric(text, 'deadlockd_deadlocks_detected_total', '{namespace="default"}'), 1);
    assert.equal(metric(text, 'deadlockd_aborts_sent_total', '{namespace="default"}'), 1);
    assert.equal(metric(text, 'deadlockd_errors_sent_total', '{code="NOT_HELD"}'), 1);
    assert.equal(metric(text, 'deadlockd_waits', '{namespace="default"}'), 2);
    assert.equal(metric(text, 'deadlockd_holds', '{namespace="default"}'), 2);
    assert.equal(metric(text, 'deadlockd_clients_connected'), 1);
    assert.equal(metric(text, 'deadlockd_sweeps_total'), 1);
    assert.equal(metric(text, 'deadlockd_sweep_missed_total'), 0);
    assert.ok(metric(text, 'deadlockd_batch_duration_seconds_count') >= 2);
    // the deadlock's time from its closing frame to its abort: one observation, a positive time
    assert.equal(metric(text, 'deadlockd_resolution_seconds_count'), 1);
    assert.ok(metric(text, 'deadlockd_resolution_seconds_sum') > 0);
    // the process metrics under their standard names, what Node.js dashboards query
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.ok(metric(text, name) >= 0, name);
    }
    // Counters read from stats must not double-count on a second scrape.
    const again = await (await fetch(`${d.url}/metrics`)).text();
    assert.equal(metric(again, 'deadlockd_deadlocks_detected_total', '{namespace="default"}'), 1);

    client.send({ type: 'abort_result', deadlock: abort.deadlock, waitId: abort.waitId, result: 'stale' });
    await client.barrier();
    const after = await (await fetch(`${d.url}/metrics`)).text();
    assert.equal(metric(after, 'deadlockd_aborts_stale_total'), 1);
    // re-decided after the stale answer: no frame closed it again, so no second resolution time
    assert.equal(metric(after, 'deadlockd_resolution_seconds_count'), 1);
    await client.close();
  } finally {
    await d.close();
  }
});

test('deadlockd_event_loop_lag_seconds shows a stall once: the longest event-loop delay since the previous scrape', async () => {
  const d = await startTestDaemon();
  try {
    const scrape = async (): Promise<number> => metric(await (await fetch(`${d.url}/metrics`)).text(), 'deadlockd_event_loop_lag_seconds');
    await scrape(); // starts a fresh interval
    // the daemon runs in this process: a synchronous second here is a one-second stall of its loop
    const until = Date.now() + 1_000;
    while (Date.now() < until);
    assert.ok((await scrape()) >= 0.9, 'the stall is seen');
    // reset at each scrape: the next interval had no stall of a second (a loaded machine lags, but not that long)
    assert.ok((await scrape()) < 0.9, 'and shown once');
  } finally {
    await d.close();
  }
});

test('/readyz is ready while serving', async () => {
  const d = await startTestDaemon();
  try {
    const res = await fetch(`${d.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready' });
  } finally {
    await d.close();
  }
});
