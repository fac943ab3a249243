// Scenarios 2 and 3: longer cycles. A three-way ring (A/B, B/C, C/A) and five
// dining philosophers (left fork, then right). Each round forms exactly one
// cycle; exactly one owner may get DeadlockError for it, and the retries must
// let every owner finish.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCycleRound, type CycleMember } from '../src/cycle-round.js';
import { assertSweepMissedNothing, deadlockCounters } from '../src/prom-metrics.js';
import { startWatchedSession, type WatchedSession } from '../src/watched-session.js';
import { STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';

const T = TEST_TIMEOUT;
const ROUNDS = 5;

describe('scenarios 2/3: rings of locks, one service', () => {
  let s: WatchedSession;
  before(async () => {
    s = await startWatchedSession('rings');
  });
  after(async () => {
    await s?.close();
  });

  async function runRounds(label: string, members: CycleMember[]) {
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    const perRound: number[] = [];
    const ids: string[] = [];
    let completed = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const outcome = await within(STEP_MS, `${label} round ${r} to finish`, runCycleRound(s.dd, members, r), () => s.daemon.logs());
      perRound.push(outcome.deadlocks.length);
      ids.push(...outcome.deadlocks.map((e) => e.deadlockId));
      completed += outcome.completed;
    }
    assert.equal(completed, members.length * ROUNDS, `every ${label} owner finished every round`);
    assert.deepEqual(perRound, Array(ROUNDS).fill(1), `${label}: DeadlockErrors per round: ${perRound.join(',')}`);
    assert.equal(new Set(ids).size, ids.length, `${label}: one abort per deadlock`);
    await expectDeadlocks(ROUNDS); // and the daemon sent no abort the app did not see
  }

  test('three-way ring A/B, B/C, C/A: one abort per deadlock, all finish', T, async () => {
    const [A, B, C] = ['ring:A', 'ring:B', 'ring:C'].map((n) => s.dd.mutex(n)) as [CycleMember['first'], CycleMember['first'], CycleMember['first']];
    await runRounds('ring', [
      { name: 'ring T1 (A then B)', first: A, second: B },
      { name: 'ring T2 (B then C)', first: B, second: C },
      { name: 'ring T3 (C then A)', first: C, second: A },
    ]);
  });

  test('five dining philosophers, left fork then right: one abort per deadlock, all eat', T, async () => {
    const forks = Array.from({ length: 5 }, (_, i) => s.dd.mutex(`fork:${i}`));
    let meals = 0;
    const members = forks.map((left, i) => ({
      name: `philosopher ${i}`,
      first: left,
      second: forks[(i + 1) % 5]!,
      work: async () => {
        meals++;
      },
    }));
    await runRounds('philosophers', members);
    assert.equal(meals, 5 * ROUNDS);
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
