// No phantom aborts when clients' events reach the daemon with different
// delays. Two SDK clients in this process share real locks on the harness
// lock server (dd.resource(), global names). Client X talks to the daemon
// through a proxy that holds each of its frames for 1.5 s; client Y talks
// directly. So the daemon's view of X lags reality by 1.5 s while its view
// of Y is current. (The phantom needs the steps below to happen within the lag:
// 1.5 s leaves a loaded machine ten times what they take.)
//
// The phantom, step by step (real time on the left, the daemon's view after):
//   x holds B.                         y1 holds A.
//   x asks for A (queued: y1 has it).  The wait is reported — through the proxy.
//   y1 releases A; x gets A, releases it at once (grant + release: through the proxy).
//   y2 takes A (free now), then asks for B (x holds it): a real wait, x is running.
// In reality there was never a cycle: when y2 took A, x no longer waited for
// anything. But ~1.5 s later the daemon receives x's "wait for A" while it
// already knows y2 holds A and waits for B, which x holds: it sees
// x → A → y2 → B → x. The grant and release of A that dissolve it are still
// in the proxy. The daemon must confirm before aborting: it asks both
// clients which of the waits still pend; X answers after everything it sent
// before (its answer queues behind the grant in the same delayed link), so by
// the time the answer arrives the daemon has seen the grant, the cycle is
// gone, and nobody is aborted.
//
// Then a REAL cross-client deadlock through the same delaying proxy (x holds
// A and waits for B, y holds B and waits for A) must still be detected and
// cost exactly one DeadlockError per deadlock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@deadlockd/client';
import { Barrier } from '../src/barrier.js';
import { startDelayProxy, type DelayProxy } from '../src/delay-proxy.js';
import { cleanup, type Daemon } from '../src/harness.js';
import { takeDistributed } from '../src/distributed-lock.js';
import { LockClient, startLockServer, type LockServer } from '../src/lock-server.js';
import { assertSweepMissedNothing, counterBaseline, metric, requireMetrics, waitForMetrics, type MetricValues } from '../src/prom-metrics.js';
import { DeadlockTally, retriedTask, signal } from '../src/retried-task.js';
import { HOOK_TIMEOUT, STEP_MS, TEST_TIMEOUT, until, within } from '../src/timing.js';
import { closeSdk, connectSdk, deadlockLogLines, startSweepingDaemon } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
const HOOK = HOOK_TIMEOUT;
const DELAY_MS = 1_500;
const ROUNDS = 3;
const COUNTERS = [
  'deadlockd_deadlocks_detected_total',
  'deadlockd_aborts_sent_total',
  'deadlockd_confirm_rounds_total',
  'deadlockd_phantoms_avoided_total',
] as const;


describe('no phantom aborts with a per-client delivery delay', () => {
  let daemon: Daemon;
  let lockServer: LockServer;
  let proxy: DelayProxy;
  let lcX: LockClient;
  let lcY: LockClient;
  let ddX: Client; // behind the delaying proxy
  let ddY: Client; // direct
  const logs = () => daemon.logs();

  // one step at a time, each assigned at once: if a later step fails, after() still closes the earlier ones
  before(async () => {
    lockServer = await startLockServer();
    daemon = await startSweepingDaemon();
    proxy = await startDelayProxy({ target: daemon.url, delayMs: DELAY_MS });
    lcX = await LockClient.connect(lockServer.port);
    lcY = await LockClient.connect(lockServer.port);
    // X reports at once (reportAfterMs 0), so the test can tell when its wait has left (nothing buffered)
    ddX = await connectSdk(proxy.url, 'service-x', { reportAfterMs: 0 });
    ddY = await connectSdk(daemon.url, 'service-y');
  }, HOOK);
  after(async () => {
    await Promise.all([closeSdk(ddX), closeSdk(ddY)]);
    await Promise.allSettled([lcX?.close(), lcY?.close()]);
    await Promise.allSettled([proxy?.close(), lockServer?.close()]);
    await cleanup(daemon);
  }, HOOK);

  test('the proxy really delays X: a frame from X reaches the daemon only after the delay', T, async () => {
    // X declares a task that holds a lock; the daemon's gauge shows it only after DELAY_MS
    const before = metric(await requireMetrics(daemon.httpUrl), 'deadlockd_holds');
    const held = signal();
    const done = signal();
    const task = ddX.task('probe', async () => {
      const h = await ddX.mutex('probe').acquire();
      const sentAt = Date.now();
      held.fire();
      await done.promise;
      h.release();
      return sentAt;
    });
    await held.promise;
    const sentAt = Date.now();
    await waitForMetrics(daemon.httpUrl, 'the daemon to see X\'s hold', (v) => metric(v, 'deadlockd_holds') > before, STEP_MS, logs);
    // not a speed assertion: a lower bound that only a delaying link satisfies
    assert.ok(Date.now() - sentAt >= DELAY_MS - 20, `seen after ${Date.now() - sentAt} ms`);
    done.fire();
    await task;
  });

  test('a cycle that exists only in the daemon\'s lagging view of X aborts nobody', T, async () => {
    const tallyX = new DeadlockTally();
    const tallyY = new DeadlockTally();
    const delta = await counterBaseline(daemon.httpUrl, COUNTERS);
    const y1HoldsA = signal();
    const y1MayRelease = signal();
    const xHoldsB = signal();
    const xWaitsForA = signal();
    const xReleasedA = signal();
    const xMayReleaseB = signal();
    const y2WaitsForB = signal();
    const steps: string[] = [];

    const y1 = retriedTask(ddY, tallyY, 'y1', async () => {
      const a = await takeDistributed(ddY, lcY, 'A');
      y1HoldsA.fire();
      await y1MayRelease.promise;
      a();
      steps.push('y1 released A');
    });
    await y1HoldsA.promise;

    const x = retriedTask(ddX, tallyX, 'x', async () => {
      const b = await takeDistributed(ddX, lcX, 'B');
      try {
        xHoldsB.fire();
        const pendingA = takeDistributed(ddX, lcX, 'A'); // y1 holds A: a real wait, reported through the proxy
        xWaitsForA.fire();
        const a = await pendingA;
        steps.push('x got A');
        a();
        steps.push('x released A');
        xReleasedA.fire();
        await xMayReleaseB.promise; // x keeps running with B
      } finally {
        b();
      }
    });
    await xHoldsB.promise;
    await xWaitsForA.promise;
    // X's SDK flushes the wait on its own (a frame of its own, into the proxy): nothing left buffered
    await until(STEP_MS, "X's wait to leave its SDK", async () => (ddX.stats.bufferedEvents === 0 ? true : undefined), 1);
    y1MayRelease.fire();
    await within(STEP_MS, 'x to get A and release it', xReleasedA.promise, logs);

    const y2 = retriedTask(ddY, tallyY, 'y2', async () => {
      const a = await takeDistributed(ddY, lcY, 'A'); // free: x released it
      try {
        steps.push('y2 got A');
        const pendingB = takeDistributed(ddY, lcY, 'B'); // x holds B and is running: a real wait, no cycle
        y2WaitsForB.fire();
        const b = await pendingB;
        steps.push('y2 got B');
        b();
      } finally {
        a();
      }
    });
    await y2WaitsForB.promise;

    // The daemon now receives X's stale "x waits for A" and sees a cycle; the
    // confirm round must dismiss it. Wait for the daemon's verdict either way.
    const verdict: MetricValues = await waitForMetrics(
      daemon.httpUrl,
      'the daemon to dismiss (or act on) the phantom cycle',
      (v) => {
        const d = delta(v);
        return d.deadlockd_phantoms_avoided_total! > 0 || d.deadlockd_aborts_sent_total! > 0 || d.deadlockd_deadlocks_detected_total! > 0;
      },
      STEP_MS,
      logs,
    );
    xMayReleaseB.fire();
    await within(STEP_MS, 'x, y1 and y2 to finish', Promise.all([x, y1, y2]), () => `${tallyX.describe()}\n${tallyY.describe()}\n${logs()}`);

    assert.deepEqual(steps, ['y1 released A', 'x got A', 'x released A', 'y2 got A', 'y2 got B']);
    assert.equal(tallyX.count, 0, `client X saw a DeadlockError:\n${tallyX.describe()}`);
    assert.equal(tallyY.count, 0, `client Y saw a DeadlockError:\n${tallyY.describe()}`);
    const d = delta(verdict);
    // the daemon did see the cycle (so this test really built the phantom) and confirmed it away
    assert.ok(d.deadlockd_confirm_rounds_total! >= 1, `no confirm round: the phantom never formed in the daemon's view ${JSON.stringify(d)}`);
    assert.ok(d.deadlockd_phantoms_avoided_total! >= 1, JSON.stringify(d));
    const final = delta(await requireMetrics(daemon.httpUrl));
    assert.equal(final.deadlockd_deadlocks_detected_total, 0, JSON.stringify(final));
    assert.equal(final.deadlockd_aborts_sent_total, 0, JSON.stringify(final));
    assert.deepEqual(deadlockLogLines(daemon), [], 'the daemon logged no "deadlock detected"');
  });

  test('a real cross-client deadlock through the same delaying proxy: exactly one DeadlockError per deadlock', T, async () => {
    const perRound: number[] = [];
    const ids: string[] = [];
    const delta = await counterBaseline(daemon.httpUrl, COUNTERS);
    let completed = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const tallyX = new DeadlockTally();
      const tallyY = new DeadlockTally();
      const bothHoldFirst = new Barrier(2);
      const crossed = (dd: Client, lc: LockClient, tally: DeadlockTally, name: string, first: string, second: string) =>
        retriedTask(dd, tally, `${name} #${r}`, async (attempt) => {
          const h1 = await takeDistributed(dd, lc, first);
          try {
            if (attempt === 0) await bothHoldFirst.wait();
            const h2 = await takeDistributed(dd, lc, second);
            h2();
            completed++;
          } finally {
            h1();
          }
        });
      await within(
        STEP_MS,
        `round ${r}: the crossed lockers to finish`,
        Promise.all([crossed(ddX, lcX, tallyX, 'x: A then B', 'A', 'B'), crossed(ddY, lcY, tallyY, 'y: B then A', 'B', 'A')]),
        () => `${tallyX.describe()}\n${tallyY.describe()}\n${logs()}`,
      );
      perRound.push(tallyX.count + tallyY.count);
      ids.push(...tallyX.deadlockIds, ...tallyY.deadlockIds);
      if (tallyX.count + tallyY.count === 1) {
        const report = [...tallyX.errors, ...tallyY.errors][0]!.report;
        assert.deepEqual(new Set(report.members.map((m) => m.service)), new Set(['service-x', 'service-y']), report.text);
      }
    }
    assert.equal(completed, 2 * ROUNDS, 'every locker completed');
    assert.deepEqual(perRound, Array(ROUNDS).fill(1), `DeadlockErrors per round (both clients): ${perRound.join(',')}`);
    assert.equal(new Set(ids).size, ROUNDS, 'each abort belongs to its own deadlock');
    const d = delta(await requireMetrics(daemon.httpUrl));
    assert.equal(d.deadlockd_aborts_sent_total, ROUNDS, JSON.stringify(d));
    assert.equal(d.deadlockd_deadlocks_detected_total, ROUNDS, JSON.stringify(d));
    assert.ok(d.deadlockd_confirm_rounds_total! >= ROUNDS, `cross-client deadlocks are confirmed first ${JSON.stringify(d)}`);
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(daemon.httpUrl, logs));
});
