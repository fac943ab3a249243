// Scenario 1 (and 7) across two processes: each service has its own SDK
// connection and takes real locks on the shared lock server, in opposite
// orders. Neither process can see the cycle; the daemon must, and must abort
// the wait in only ONE of them per deadlock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup,
  describeService,
  runService,
  servicePath,
  startLockServerProcess,
  type Daemon,
  type LockServerProcess,
} from '../src/harness.js';
import { LockClient } from '../src/lock-server.js';
import { ProcessBarrier } from '../src/process-barrier.js';
import { assertSweepMissedNothing, deadlockCounters } from '../src/prom-metrics.js';
import { startSweepingDaemon } from '../src/watched-session.js';
import { TEST_TIMEOUT } from '../src/timing.js';

const ROUNDS = 5;

interface TransferResult {
  service: string;
  moved: number;
  deadlocksPerRound: number[];
  deadlockIds: string[];
}

describe('scenario 1/7: transfers across two processes on a shared lock service', () => {
  let daemon: Daemon;
  let lockServer: LockServerProcess;
  before(async () => {
    [daemon, lockServer] = await Promise.all([startSweepingDaemon(), startLockServerProcess()]);
  });
  after(async () => {
    await cleanup(daemon, lockServer);
  });

  test('both finish, exactly the expected money moved, one process aborted per deadlock', TEST_TIMEOUT, async () => {
    const ledger = await LockClient.connect(lockServer.port);
    const expectDeadlocks = await deadlockCounters(daemon.httpUrl);
    try {
      await ledger.set('balance:a', 1_000);
      await ledger.set('balance:b', 1_000);

      const barrier = new ProcessBarrier(2);
      const common = ['--daemon', daemon.url, '--lock-port', String(lockServer.port), '--rounds', String(ROUNDS)];
      const script = servicePath('cross-transfer');
      const [ab, ba] = await Promise.all([
        runService<TransferResult>(script, [...common, '--service', 'orders', '--from', 'a', '--to', 'b', '--amount', '7'], {}, { barrier }),
        runService<TransferResult>(script, [...common, '--service', 'billing', '--from', 'b', '--to', 'a', '--amount', '3'], {}, { barrier }),
      ]);
      const diag = () => `${describeService('orders (a->b)', ab)}\n${describeService('billing (b->a)', ba)}\n--- daemon ---\n${daemon.logs()}`;
      assert.equal(ab.code, 0, diag());
      assert.equal(ba.code, 0, diag());
      assert.ok(ab.result && ba.result, diag());

      assert.equal(ab.result.moved, 7 * ROUNDS, 'orders moved all its money');
      assert.equal(ba.result.moved, 3 * ROUNDS, 'billing moved all its money');
      assert.equal(await ledger.get('balance:a'), 1_000 - 7 * ROUNDS + 3 * ROUNDS, 'balance a');
      assert.equal(await ledger.get('balance:b'), 1_000 + 7 * ROUNDS - 3 * ROUNDS, 'balance b');

      const perRound = ab.result.deadlocksPerRound.map((n, r) => n + (ba.result!.deadlocksPerRound[r] ?? NaN));
      assert.ok(perRound.reduce((x, y) => x + y, 0) >= 1, `at least one DeadlockError\n${diag()}`);
      // each round forms exactly one deadlock: exactly one of the two processes
      // got DeadlockError for it, the other proceeded
      assert.deepEqual(
        perRound,
        Array(ROUNDS).fill(1),
        `DeadlockErrors per round: orders ${ab.result.deadlocksPerRound} / billing ${ba.result.deadlocksPerRound}`,
      );
      const ids = [...ab.result.deadlockIds, ...ba.result.deadlockIds];
      assert.equal(new Set(ids).size, ids.length, `no deadlock aborted both processes: ${ids.join(', ')}`);
      await expectDeadlocks(ROUNDS); // and the daemon sent no abort the processes did not see
    } finally {
      await ledger.close();
    }
  });

  test('the safety-net sweep found nothing the incremental detection missed', TEST_TIMEOUT, () => assertSweepMissedNothing(daemon.httpUrl, () => daemon.logs()));
});
