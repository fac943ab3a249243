// Scenario 5: NOT a deadlock — the cycle a running owner breaks. Pool of 2,
// mutex m. T1 and T2 hold one unit each; T3 holds m and waits for the pool;
// T1 waits for m. There is a cycle T1 → m → T3 → pool → T1, but T2 is
// running and will return its unit: T3 proceeds, releases m, and T1 after
// it. A detector that only looks for cycles aborts someone here; Holt
// reduction must not. The test keeps T2 running until the daemon's own
// gauges show both waits (so the daemon really had the cycle in its graph),
// then ~300 ms more, and only then lets T2 release.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSweepMissedNothing, counterBaseline, metric, requireMetrics, waitForMetrics } from '../src/prom-metrics.js';
import { DeadlockTally, retriedTask, signal } from '../src/retried-task.js';
import { HOOK_TIMEOUT, sleep, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';
import { deadlockLogLines, startWatchedSession, type WatchedSession } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
const HOOK = HOOK_TIMEOUT;
const ROUNDS = 3;
const COUNTERS = ['deadlockd_deadlocks_detected_total', 'deadlockd_aborts_sent_total', 'deadlockd_deadlocks_unresolvable_total'] as const;

describe('scenario 5: a cycle through a pool that a running holder breaks is not a deadlock', () => {
  let s: WatchedSession;
  before(async () => {
    s = await startWatchedSession('reports');
  }, HOOK);
  after(async () => {
    await s?.close();
  }, HOOK);

  async function round(r: number, tally: DeadlockTally): Promise<string[]> {
    const { dd } = s;
    const pool = dd.semaphore('pool', 2);
    const m = dd.mutex('m');
    const done: string[] = [];
    const t1HoldsUnit = signal();
    const t2HoldsUnit = signal();
    const t3WaitsForPool = signal();
    const t1WaitsForM = signal();

    // Each task is written as an app would (retry around the whole task);
    // the steps are sequenced so the graph is exactly the scenario's.
    const t1 = retriedTask(dd, tally, `T1 #${r}`, async () => {
      const unit = await pool.acquire();
      try {
        t1HoldsUnit.fire();
        await t3WaitsForPool.promise;
        const pending = m.acquire(); // queued now: T3 holds m
        t1WaitsForM.fire();
        const hm = await pending;
        hm.release();
        done.push('T1');
      } finally {
        unit.release();
      }
    });
    const t2 = retriedTask(dd, tally, `T2 #${r}`, async () => {
      const unit = await pool.acquire();
      try {
        t2HoldsUnit.fire();
        await t1WaitsForM.promise;
        // running, not blocked: hold the unit until the daemon has seen both waits, then a while longer
        await waitForMetrics(s.daemon.httpUrl, 'the daemon to see the waits of T1 and T3', (v) => metric(v, 'deadlockd_waits') >= 2);
        await sleep(300);
        done.push('T2');
      } finally {
        unit.release();
      }
    });
    const t3 = retriedTask(dd, tally, `T3 #${r}`, async () => {
      await Promise.all([t1HoldsUnit.promise, t2HoldsUnit.promise]);
      const hm = await m.acquire();
      try {
        const pending = pool.acquire(); // queued now: T1 and T2 hold both units
        t3WaitsForPool.fire();
        const unit = await pending;
        unit.release();
        done.push('T3');
      } finally {
        hm.release();
      }
    });
    await within(STEP_MS, `round ${r}: T1, T2, T3 to finish`, Promise.all([t1, t2, t3]), () => `${tally.describe()}\n${s.daemon.logs()}`);
    return done;
  }

  test('T1, T2, T3 all complete with zero DeadlockError; the daemon detects nothing', T, async () => {
    const tally = new DeadlockTally();
    const delta = await counterBaseline(s.daemon.httpUrl, COUNTERS);
    for (let r = 0; r < ROUNDS; r++) {
      const order = await round(r, tally);
      // T2 released first (it was running), then T3 got the pool, then T1 got m
      assert.deepEqual(order, ['T2', 'T3', 'T1'], `round ${r}: completion order`);
    }
    assert.equal(tally.count, 0, `no abort is allowed here:\n${tally.describe()}`);
    assert.deepEqual(deadlockLogLines(s.daemon), [], 'the daemon logged no "deadlock detected"');
    assert.deepEqual(delta(await requireMetrics(s.daemon.httpUrl)), {
      deadlockd_deadlocks_detected_total: 0,
      deadlockd_aborts_sent_total: 0,
      deadlockd_deadlocks_unresolvable_total: 0,
    });
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
