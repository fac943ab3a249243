// Scenario 9: hot lock, no deadlock. Thousands of owners queue on one mutex
// whose holder is running. Nothing may be aborted; the mutex is FIFO, so they
// must get it in exactly the order they asked. The holder keeps it until the
// daemon's own gauge shows every wait in its graph (so detection really ran
// on each of them), then about a second in total, then lets go.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSweepMissedNothing, deadlockCounters, metric, waitForMetrics } from '../src/prom-metrics.js';
import { DeadlockTally, signal } from '../src/retried-task.js';
import { HOOK_TIMEOUT, sleep, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';
import { deadlockLogLines, startWatchedSession, type WatchedSession } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
const HOOK = HOOK_TIMEOUT;
const WAITERS = 2_000;
const HOLD_MS = 1_000;

describe('scenario 9: a hot mutex with a running holder', () => {
  let s: WatchedSession;
  before(async () => {
    s = await startWatchedSession('hot-path');
  }, HOOK);
  after(async () => {
    await s?.close();
  }, HOOK);

  test(`${WAITERS} tasks queue behind a holder running ~${HOLD_MS} ms: zero DeadlockError, all complete in FIFO order`, T, async () => {
    const { dd } = s;
    const hot = dd.mutex('hot');
    const tally = new DeadlockTally();
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    const holding = signal();
    const granted: number[] = [];
    let waitsSeenByDaemon = 0;

    const holder = dd.task('hot holder', async () => {
      const h = await hot.acquire();
      try {
        const since = Date.now();
        holding.fire();
        const v = await waitForMetrics(s.daemon.httpUrl, `the daemon to see ${WAITERS} waits on the hot mutex`, (m) => metric(m, 'deadlockd_waits') >= WAITERS, 20_000, () => s.daemon.logs());
        waitsSeenByDaemon = metric(v, 'deadlockd_waits');
        await sleep(Math.max(0, HOLD_MS - (Date.now() - since))); // running, just slow
      } finally {
        h.release();
      }
    });
    await holding.promise;
    // started in order 0..WAITERS-1: each acquire joins the queue synchronously when its task starts
    const waiters = Array.from({ length: WAITERS }, (_, i) =>
      dd
        .task(`hot waiter ${i}`, async () => {
          const h = await hot.acquire();
          granted.push(i);
          h.release();
        })
        .catch((e: unknown) => {
          tally.note(e);
          throw e;
        }),
    );
    const results = await within(STEP_MS, `the holder and ${WAITERS} waiters to finish`, Promise.allSettled([holder, ...waiters]), () => s.daemon.logs());
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(tally.count, 0, `no DeadlockError on a hot lock:\n${tally.describe()}`);
    assert.deepEqual(failed, [], 'every task completed');
    assert.equal(waitsSeenByDaemon, WAITERS, 'the daemon saw each queued wait once');
    assert.equal(granted.length, WAITERS);
    assert.deepEqual(granted, Array.from({ length: WAITERS }, (_, i) => i), 'granted in FIFO order');
    assert.deepEqual(deadlockLogLines(s.daemon), []);
    await expectDeadlocks(0);
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
