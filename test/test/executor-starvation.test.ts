// Scenario 6: executor starvation. A fixed set of K worker slots (a
// semaphore). Each of K tasks takes a slot, spawns a subtask that needs a
// slot too, and joins it while keeping its own. With all K slots held by
// joiners, no subtask can start: every task waits for its subtask (a wait on
// task completion) and every subtask waits for the pool. The daemon must see
// this through the join waits, abort ONE wait, and the app — retryOnDeadlock
// around the whole task, so a failed attempt gives its slot back — must then
// complete all K tasks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier } from '../src/barrier.js';
import { assertSweepMissedNothing, deadlockCounters } from '../src/prom-metrics.js';
import { DeadlockTally, retriedTask, signal } from '../src/retried-task.js';
import { HOOK_TIMEOUT, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';
import { startWatchedSession, type WatchedSession } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
const HOOK = HOOK_TIMEOUT;
const K = 3;
const ROUNDS = 5;

describe('scenario 6: executor starvation (tasks in a pool of K slots join subtasks that need a slot)', () => {
  let s: WatchedSession;
  before(async () => {
    s = await startWatchedSession('executor');
  }, HOOK);
  after(async () => {
    await s?.close();
  }, HOOK);

  /**
   * One round of K tasks. Resolves once every task completed AND every subtask
   * ever spawned has settled (a subtask whose parent was the victim still runs
   * to the end on its own; the round must not leave it behind).
   */
  async function round(r: number, tally: DeadlockTally, barrier: Barrier | undefined) {
    const { dd } = s;
    const slots = dd.semaphore('executor-slots', K);
    const subtasks: Promise<unknown>[] = [];
    let tasksDone = 0;
    let subtasksDone = 0;
    const task = (i: number) =>
      retriedTask(dd, tally, `task ${i} #${r}`, async (attempt) => {
        const slot = await slots.acquire();
        try {
          // first attempt only: all K hold a slot before any subtask is spawned
          if (attempt === 0) await barrier?.wait();
          // tracked by the subtask's own finally (a second join would be one more reported wait)
          const settled = signal();
          subtasks.push(settled.promise);
          const sub = dd.spawn(`subtask of task ${i} #${r}`, async () => {
            try {
              const subSlot = await slots.acquire();
              try {
                await new Promise((res) => setImmediate(res)); // the subtask's work
                subtasksDone++;
              } finally {
                subSlot.release();
              }
            } finally {
              settled.fire();
            }
          });
          await sub.join();
          tasksDone++;
        } finally {
          slot.release();
        }
      });
    await within(
      STEP_MS,
      `round ${r}: ${K} tasks and their subtasks to finish`,
      Promise.all(Array.from({ length: K }, (_, i) => task(i))).then(() => Promise.all(subtasks)),
      () => `${tally.describe()}\n${s.daemon.logs()}`,
    );
    return { tasksDone, subtasksDone };
  }

  test('one task alone (K free slots) completes with no DeadlockError', T, async () => {
    const tally = new DeadlockTally();
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    const { dd } = s;
    const slots = dd.semaphore('executor-slots', K);
    await within(
      STEP_MS,
      'a lone task and its subtask to finish',
      retriedTask(dd, tally, 'lone task', async () => {
        const slot = await slots.acquire();
        try {
          await dd.spawn('lone subtask', async () => (await slots.acquire()).release()).join();
        } finally {
          slot.release();
        }
      }),
    );
    assert.equal(tally.count, 0, tally.describe());
    await expectDeadlocks(0);
  });

  test(`${K} tasks in ${K} slots each joining a subtask: detected, exactly one DeadlockError, all complete after retry`, T, async () => {
    const perRound: number[] = [];
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    for (let r = 0; r < ROUNDS; r++) {
      const tally = new DeadlockTally();
      const { tasksDone, subtasksDone } = await round(r, tally, new Barrier(K));
      assert.equal(tasksDone, K, `round ${r}: every task completed`);
      // K subtasks of completed attempts, plus the victim's orphan if the victim was a joiner
      assert.ok(subtasksDone >= K, `round ${r}: ${subtasksDone} subtasks completed`);
      perRound.push(tally.count);
      if (tally.count === 1) {
        const report = tally.errors[0]!.report;
        assert.ok(report.text.includes('executor-slots'), `the report names the slot pool:\n${report.text}`);
        // every task and every subtask is stuck and on the cycle
        assert.equal(report.members.length, 2 * K, report.text);
      }
    }
    assert.deepEqual(perRound, Array(ROUNDS).fill(1), `DeadlockErrors per round: ${perRound.join(',')}`);
    await expectDeadlocks(ROUNDS);
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
