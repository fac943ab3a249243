// Scenario 1 inside one service: transfer(from, to) locks `from` then `to`;
// two transfers in opposite directions deadlock. The daemon must abort one,
// the app's retry must complete both, and no money may appear or vanish.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCycleRound } from '../src/cycle-round.js';
import { assertSweepMissedNothing, deadlockCounters } from '../src/prom-metrics.js';
import { startWatchedSession, type WatchedSession } from '../src/watched-session.js';
import { STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';

const ROUNDS = 20;

describe('scenario 1: transfer lock-order inversion, one service', () => {
  let s: WatchedSession;
  before(async () => {
    s = await startWatchedSession('payments');
  });
  after(async () => {
    await s?.close();
  });

  test('opposite transfers deadlock, one is aborted per deadlock, retries finish, money is conserved', TEST_TIMEOUT, async () => {
    const { dd } = s;
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    const balances = new Map([
      ['a', 1_000],
      ['b', 1_000],
    ]);
    const total = () => [...balances.values()].reduce((x, y) => x + y, 0);
    const totalBefore = total();
    const account = { a: dd.mutex('account:a'), b: dd.mutex('account:b') };

    // read-modify-write with a yield in between: without the locks, the two
    // transfers would lose updates and the total would drift
    const move = (from: 'a' | 'b', to: 'a' | 'b', amount: number) => async () => {
      const f = balances.get(from)!;
      const t = balances.get(to)!;
      await new Promise((r) => setImmediate(r));
      balances.set(from, f - amount);
      balances.set(to, t + amount);
    };

    const perRound: number[] = [];
    const ids: string[] = [];
    let completed = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const outcome = await within(
        STEP_MS,
        `round ${r} of opposite transfers to finish`,
        runCycleRound(
          dd,
          [
            { name: 'transfer a->b', first: account.a, second: account.b, work: move('a', 'b', 7) },
            { name: 'transfer b->a', first: account.b, second: account.a, work: move('b', 'a', 3) },
          ],
          r,
        ),
        () => s.daemon.logs(),
      );
      perRound.push(outcome.deadlocks.length);
      ids.push(...outcome.deadlocks.map((e) => e.deadlockId));
      completed += outcome.completed;
    }

    assert.equal(completed, 2 * ROUNDS, 'every transfer completed');
    assert.ok(perRound.reduce((x, y) => x + y, 0) >= 1, 'at least one DeadlockError');
    // every round forms exactly one deadlock, and it must cost exactly one abort
    assert.deepEqual(perRound, Array(ROUNDS).fill(1), `DeadlockErrors per round: ${perRound.join(',')}`);
    assert.equal(new Set(ids).size, ids.length, 'each abort belongs to its own deadlock');
    await expectDeadlocks(ROUNDS); // and the daemon sent no abort the app did not see
    assert.equal(total(), totalBefore, 'money is conserved');
    assert.equal(balances.get('a'), 1_000 - 7 * ROUNDS + 3 * ROUNDS);
    assert.equal(balances.get('b'), 1_000 + 7 * ROUNDS - 3 * ROUNDS);
  });

  test('the safety-net sweep found nothing the incremental detection missed', TEST_TIMEOUT, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
