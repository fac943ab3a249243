// Scenario 4: nested pool checkout, with the SDK's own semaphore. A request
// checks out a connection from a pool of N and, while holding it, calls a
// helper that checks out a second one. Alone it is fine; with N concurrent
// requests every connection is held and every request waits for a second.
// Holt reduction finds all N stuck, and ONE abort (not N) must unblock the
// rest: the victim's unit lets the head of the queue finish, which returns
// two units, and so on.
import { after, before, describe, test } from 'node:test';
import type { Hazard } from '@deadlockd/proto';
import assert from 'node:assert/strict';
import { Barrier } from '../src/barrier.js';
import { assertSweepMissedNothing, deadlockCounters } from '../src/prom-metrics.js';
import { DeadlockTally, retriedTask } from '../src/retried-task.js';
import { HOOK_TIMEOUT, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';
import { startWatchedSession, type WatchedSession } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
const HOOK = HOOK_TIMEOUT;
const N = 4;
const ROUNDS = 5;

describe('scenario 4: nested checkout from a semaphore pool', () => {
  let s: WatchedSession;
  // every hazard the daemon sends this client, from the very first event
  const hazards: Hazard[] = [];
  let nestedHazard: Promise<Hazard>;
  before(async () => {
    s = await startWatchedSession('orders');
    nestedHazard = new Promise((resolve) => {
      s.dd.on('hazard', (h) => {
        hazards.push(h);
        if (h.kind === 'nested-pool-checkout') resolve(h);
      });
    });
  }, HOOK);
  after(async () => {
    await s?.close();
  }, HOOK);

  /** One request: a connection, then (inside the helper) a second one from the same pool. */
  function request(tally: DeadlockTally, name: string, completed: { n: number }, barrier?: Barrier) {
    const pool = s.dd.semaphore('pool', N);
    const helper = async () => {
      const second = await pool.acquire();
      try {
        await new Promise((r) => setImmediate(r)); // the helper's query
      } finally {
        second.release();
      }
    };
    return retriedTask(s.dd, tally, name, async (attempt) => {
      const first = await pool.acquire();
      try {
        // first attempt only: every request holds a connection before any asks for a second
        if (attempt === 0) await barrier?.wait();
        await helper();
        completed.n++;
      } finally {
        first.release();
      }
    });
  }

  test('at concurrency 1 the nested checkout completes with no DeadlockError', T, async () => {
    const tally = new DeadlockTally();
    const completed = { n: 0 };
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    for (let i = 0; i < 3; i++) {
      await within(STEP_MS, `lone request ${i} to finish`, request(tally, `lone request ${i}`, completed), () => s.daemon.logs());
    }
    assert.equal(completed.n, 3);
    assert.equal(tally.count, 0, tally.describe());
    await expectDeadlocks(0);
  });

  // SCENARIOS.md wants the hazard at concurrency 1, long before it deadlocks.
  test('at concurrency 1 the nested checkout is reported as a nested-pool-checkout hazard', T, async () => {
    // the lone requests of the test above did it first (the SDK reports each pair once per connection)
    const hazard = await within(STEP_MS, 'a nested-pool-checkout hazard from the daemon', nestedHazard, () => `${hazards.map((h) => h.text).join('\n')}\n${s.daemon.logs()}`);
    assert.deepEqual(hazard.classes, ['orders:pool'], hazard.text);
  });

  test(`${N} concurrent requests on a pool of ${N}: exactly one DeadlockError per deadlock, all complete`, T, async () => {
    const perRound: number[] = [];
    const ids: string[] = [];
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    for (let r = 0; r < ROUNDS; r++) {
      const tally = new DeadlockTally();
      const completed = { n: 0 };
      const barrier = new Barrier(N);
      await within(
        STEP_MS,
        `round ${r}: ${N} nested checkouts to finish`,
        Promise.all(Array.from({ length: N }, (_, i) => request(tally, `request ${i} #${r}`, completed, barrier))),
        () => `${tally.describe()}\n${s.daemon.logs()}`,
      );
      assert.equal(completed.n, N, `round ${r}: every request completed`);
      perRound.push(tally.count);
      ids.push(...tally.deadlockIds);
      if (tally.count === 1) {
        // all N were stuck: the report names every request as a member
        const report = tally.errors[0]!.report;
        assert.equal(report.members.length, N, report.text);
        assert.ok(report.text.includes('pool'), report.text);
      }
    }
    assert.deepEqual(perRound, Array(ROUNDS).fill(1), `DeadlockErrors per round: ${perRound.join(',')}`);
    assert.equal(new Set(ids).size, ROUNDS, 'each abort belongs to its own deadlock');
    // the daemon's own count agrees: one deadlock and one abort per round, not N
    await expectDeadlocks(ROUNDS);
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
