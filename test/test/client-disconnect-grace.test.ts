// A client that disconnects keeps its holds and waits for --disconnect-grace-ms (5 s here),
// then the daemon drops them. (1) kill -9 a process that holds a distributed lock others wait
// for: the lock server gives the lock away at once, but in the daemon's view the dead process
// still holds it and still waits — a phantom cycle with a live service until the grace period
// ends. Nobody may be aborted for it, and after the grace period the dead client's edges are gone.
// (2) A client whose connection drops and comes back within the grace period resumes its session.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@deadlockd/client';
import { cleanup, servicePath, spawnService, startLockServerProcess, type Daemon, type LockServerProcess } from '../src/harness.js';
import { takeDistributed } from '../src/distributed-lock.js';
import { LockClient } from '../src/lock-server.js';
import { counterBaseline, requireMetrics } from '../src/prom-metrics.js';
import { DeadlockTally, retriedTask, signal } from '../src/retried-task.js';
import { startTcpProxy } from '../src/tcp-proxy.js';
import { daemonHasEdge } from '../src/daemon-graph.js';
import { STEP_MS, TEST_TIMEOUT, until, within } from '../src/timing.js';
import { closeSdk, connectSdk, startSweepingDaemon } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
// Long enough that the daemon is surely seen keeping the dead client (and the resumed one
// reconnects) within it on a loaded machine; nothing waits for it to pass by the clock.
const GRACE_MS = 5_000;
const COUNTERS = ['deadlockd_deadlocks_detected_total', 'deadlockd_aborts_sent_total'] as const;

interface ClientRow {
  id: string;
  service: string;
  connected: boolean;
}

async function clients(daemon: Daemon): Promise<ClientRow[]> {
  const res = await fetch(`${daemon.httpUrl}/v1/clients`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { clients: ClientRow[] }).clients;
}

describe('client disconnect: grace period, then the dead client is forgotten', () => {
  let daemon: Daemon;
  let lockServer: LockServerProcess;
  const sdks: Client[] = [];
  const lockClients: LockClient[] = [];
  before(async () => {
    [daemon, lockServer] = await Promise.all([
      startSweepingDaemon(['--disconnect-grace-ms', String(GRACE_MS)]),
      startLockServerProcess(),
    ]);
  });
  after(async () => {
    await Promise.all(sdks.map(closeSdk));
    await Promise.all(lockClients.map((l) => l.close().catch(() => {})));
    await cleanup(daemon, lockServer);
  });

  async function service(name: string, url = daemon.url) {
    // quiet: the resume test drops a connection on purpose (the SDK warns once about it)
    const dd = await connectSdk(url, name, { reconnect: { minDelayMs: 10, maxDelayMs: 50 }, logger: { warn: () => {} } });
    sdks.push(dd);
    const locks = await LockClient.connect(lockServer.port);
    lockClients.push(locks);
    return { dd, take: (lock: string) => takeDistributed(dd, locks, lock) };
  }

  test('kill -9 a lock holder: no phantom deadlock aborts anyone, its edges go after the grace period', T, async (t) => {
    const delta = await counterBaseline(daemon.httpUrl, COUNTERS);
    const b = await service('svc-b');
    const c = await service('svc-c');
    const tally = new DeadlockTally();

    // b holds L2 (and will later want L1)
    const bHolds = signal();
    const crashed = signal();
    const bDone = retriedTask(b.dd, tally, 'b: L2 then L1', async () => {
      const r2 = await b.take('gr:L2');
      try {
        bHolds.fire();
        await crashed.promise;
        const r1 = await b.take('gr:L1'); // in the daemon's view L1 is still held by the dead process
        r1();
      } finally {
        r2();
      }
    });
    await bHolds.promise;

    // the crasher holds L1 and waits for L2 (held by b)
    const crasher = spawnService(servicePath('lock-then-wait'), [
      '--daemon', daemon.url, '--lock-port', String(lockServer.port), '--service', 'crasher', '--hold', 'gr:L1', '--want', 'gr:L2',
    ]);
    await crasher.waitForLine(/^WAITING gr:L2/);
    await until(STEP_MS, "the crasher's wait for L2 to reach the daemon", () => daemonHasEdge(daemon.httpUrl, 'waits', 'crasher', 'gr:L2'));

    // c queues for L1 behind the crasher; when the crasher dies, c gets L1 and keeps it until the
    // daemon has dropped the crasher (the grace period is over)
    const cGot = signal();
    const crasherRemoved = daemon.waitForLog(/client removed/, T.timeout);
    crasherRemoved.catch(() => {}); // a failure is reported by the awaits below
    const cDone = retriedTask(c.dd, tally, 'c: L1', async () => {
      const r1 = await c.take('gr:L1');
      cGot.fire();
      await crasherRemoved;
      r1();
    });
    await until(STEP_MS, "c's wait for L1 to reach the daemon", () => daemonHasEdge(daemon.httpUrl, 'waits', 'svc-c', 'gr:L1'));

    await crasher.kill9();
    await within(STEP_MS, 'the lock server to give L1 to c', cGot.promise);
    crashed.fire(); // b now waits for L1: in the daemon's view, held by the dead client that waits for b
    // The lock server may see the dead socket before the daemon does: wait for the daemon to
    // notice, then the row must still be there (kept, marked disconnected) during the grace period.
    const during = await until(STEP_MS, 'the daemon to see the crasher disconnect', async () => {
      const rows = (await clients(daemon)).filter((x) => x.service === 'crasher');
      return rows.some((x) => x.connected) ? undefined : rows;
    });
    assert.deepEqual(during.map((x) => x.connected), [false], 'kept, disconnected, during the grace period');

    await within(STEP_MS, 'b and c to finish', Promise.all([bDone, cDone]), () => `${tally.describe()}\n${daemon.logs()}`);
    assert.equal(tally.count, 0, `no phantom deadlock aborted anyone:\n${tally.describe()}`);
    const after = await clients(daemon);
    assert.deepEqual(after.filter((x) => x.service === 'crasher'), [], 'the dead client is gone after the grace period');
    await daemon.waitForLog(/client removed/);
    const counted = delta(await requireMetrics(daemon.httpUrl));
    t.diagnostic(`daemon counters during the crash: ${JSON.stringify(counted)}`);
    assert.equal(counted.deadlockd_aborts_sent_total, 0, JSON.stringify(counted));
  });

  test('a connection that drops and comes back within the grace period resumes its session', T, async () => {
    const proxy = await startTcpProxy(daemon.port);
    try {
      const x = await service('svc-resume', `ws://127.0.0.1:${proxy.port}/v1/stream`);
      const y = await service('svc-other');
      const before = (await clients(daemon)).find((r) => r.service === 'svc-resume');
      assert.ok(before?.connected);

      // x holds R1, then its link breaks and comes back quickly
      const tally = new DeadlockTally();
      const xHolds = signal();
      const linkBack = signal();
      const yHolds = signal();
      const xDone = retriedTask(x.dd, tally, 'x: R1 then R2', async (attempt) => {
        const r1 = await x.take('gr:R1');
        try {
          if (attempt === 0) {
            xHolds.fire();
            await linkBack.promise;
            await yHolds.promise;
          }
          (await x.take('gr:R2'))();
        } finally {
          r1();
        }
      });
      await xHolds.promise;
      await until(STEP_MS, "x's hold of R1 to reach the daemon", () => daemonHasEdge(daemon.httpUrl, 'holds', 'svc-resume', 'gr:R1'));
      proxy.cut();
      await until(STEP_MS, 'x to notice the drop', async () => (x.dd.connected ? undefined : true), 5);
      await until(STEP_MS, 'x to reconnect through the proxy', async () => (x.dd.connected ? true : undefined), 5);
      const rows = await clients(daemon);
      assert.deepEqual(
        rows.filter((r) => r.service === 'svc-resume').map((r) => [r.id, r.connected]),
        [[before.id, true]],
        'the same session, resumed',
      );
      await daemon.waitForLog(/client resumed/);
      linkBack.fire();

      // and its state is intact: a deadlock with y through R1 (held since before the drop) is found
      const yDone = retriedTask(y.dd, tally, 'y: R2 then R1', async (attempt) => {
        const r2 = await y.take('gr:R2');
        try {
          if (attempt === 0) yHolds.fire();
          (await y.take('gr:R1'))();
        } finally {
          r2();
        }
      });
      await within(STEP_MS, 'the deadlock across the resumed session to be resolved', Promise.all([xDone, yDone]), () => `${tally.describe()}\n${daemon.logs()}`);
      assert.equal(tally.count, 1, tally.describe());
    } finally {
      await proxy.close();
    }
  });
});
