// Scenario 8: lock upgrade. Two owners hold a readers-writer lock shared and
// both ask for exclusive: each upgrade waits for the other's shared hold, a
// real deadlock; exactly one must be aborted, and the other's upgrade then
// goes through. Shared holders alone never block each other: many of them at
// once must cost nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier } from '../src/barrier.js';
import { assertSweepMissedNothing, deadlockCounters, metric, waitForMetrics } from '../src/prom-metrics.js';
import { DeadlockTally, retriedTask } from '../src/retried-task.js';
import { HOOK_TIMEOUT, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';
import { deadlockLogLines, startWatchedSession, type WatchedSession } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
const HOOK = HOOK_TIMEOUT;
const ROUNDS = 5;
const READERS = 200;

describe('scenario 8: rwlock upgrade', () => {
  let s: WatchedSession;
  before(async () => {
    s = await startWatchedSession('config-service');
  }, HOOK);
  after(async () => {
    await s?.close();
  }, HOOK);

  test(`${READERS} shared holders at once never block each other: zero DeadlockError`, T, async () => {
    const cfg = s.dd.rwlock('config');
    const tally = new DeadlockTally();
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    // every reader holds the lock shared while all the others do (the barrier
    // inside the critical section would never open if one of them were blocked)
    const allInside = new Barrier(READERS);
    let seen: Promise<unknown> | undefined;
    const daemonSawAll = () =>
      (seen ??= waitForMetrics(s.daemon.httpUrl, `the daemon to see ${READERS} shared holds`, (v) => metric(v, 'deadlockd_holds') >= READERS).then(
        (v) => (waitsWhileAllHeld = metric(v, 'deadlockd_waits')),
      ));
    let waitsWhileAllHeld: number | undefined;
    let maxInside = 0;
    let inside = 0;
    await within(
      STEP_MS,
      `${READERS} shared holders to be inside together`,
      Promise.all(
        Array.from({ length: READERS }, (_, i) =>
          retriedTask(s.dd, tally, `reader ${i}`, async () => {
            const h = await cfg.acquire('shared');
            try {
              inside++;
              maxInside = Math.max(maxInside, inside);
              await allInside.wait();
              // stay inside until the daemon holds all the shared holds in its graph
              await daemonSawAll();
              inside--;
            } finally {
              h.release();
            }
          }),
        ),
      ),
      () => `${inside} inside\n${s.daemon.logs()}`,
    );
    assert.equal(maxInside, READERS);
    assert.equal(waitsWhileAllHeld, 0, 'with all the shared holds in its graph, the daemon saw no wait');
    assert.equal(tally.count, 0, tally.describe());
    assert.deepEqual(deadlockLogLines(s.daemon), []);
    await expectDeadlocks(0);
  });

  test('two shared holders both upgrading to exclusive: exactly one DeadlockError per deadlock, both complete', T, async () => {
    const cfg = s.dd.rwlock('config');
    let version = 0;
    const perRound: number[] = [];
    const ids: string[] = [];
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    for (let r = 0; r < ROUNDS; r++) {
      const tally = new DeadlockTally();
      const bothShared = new Barrier(2);
      let upgraded = 0;
      const upgrader = (name: string) =>
        retriedTask(s.dd, tally, `${name} #${r}`, async (attempt) => {
          const read = await cfg.acquire('shared');
          try {
            const seen = version;
            if (attempt === 0) await bothShared.wait(); // both hold it shared before either upgrades
            const write = await cfg.acquire('exclusive');
            try {
              // exclusive: nobody else read or wrote in between, so read-then-write is safe
              assert.equal(version, seen, 'no other writer got in while this owner held it shared');
              version = seen + 1;
              upgraded++;
            } finally {
              write.release();
            }
          } finally {
            read.release();
          }
        });
      await within(
        STEP_MS,
        `round ${r}: both upgraders to finish`,
        Promise.all([upgrader('upgrader A'), upgrader('upgrader B')]),
        () => `${tally.describe()}\n${s.daemon.logs()}`,
      );
      assert.equal(upgraded, 2, `round ${r}: both upgrades went through`);
      perRound.push(tally.count);
      ids.push(...tally.deadlockIds);
      if (tally.count === 1) {
        const report = tally.errors[0]!.report;
        assert.equal(report.members.length, 2, report.text);
        assert.ok(report.text.includes('config'), report.text);
      }
    }
    assert.equal(version, 2 * ROUNDS, 'every upgrade wrote once');
    assert.deepEqual(perRound, Array(ROUNDS).fill(1), `DeadlockErrors per round: ${perRound.join(',')}`);
    assert.equal(new Set(ids).size, ROUNDS, 'each abort belongs to its own deadlock');
    await expectDeadlocks(ROUNDS);
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
