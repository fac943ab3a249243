// Issue 13: a pure row-lock deadlock between two services (each UPDATEs its row, then the other
// one). PostgreSQL would resolve it itself after deadlock_timeout (default 1 s; 5 s here, room
// for a loaded machine; the bench measures both at the default). With --pg-resolve the daemon
// resolves it first: one DeadlockError in one
// service, both finish through retryOnDeadlock, PostgreSQL never detects the deadlock (so never
// picks a second victim for the same cycle), and the report names both backends' queries.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type Postgres } from '../src/embedded-pg.js';
import { cleanup, describeService, runService, servicePath, startLockServerProcess, type Daemon, type LockServerProcess } from '../src/harness.js';
import { ProcessBarrier } from '../src/process-barrier.js';
import { assertSweepMissedNothing } from '../src/prom-metrics.js';
import { balances, createAccounts, pgUrl, startWatchingDaemon } from '../src/pg-accounts.js';

interface Result {
  moved: number;
  deadlockErrors: number;
  errorCode?: string;
  reports: Array<{ text: string; members: Array<{ service: string }> }>;
  backendPid: number;
}

const ROUNDS = 3;

describe('issue 13: a pure row-lock deadlock resolved by the daemon (--pg-resolve, embedded PostgreSQL)', () => {
  let postgres: Postgres;
  let daemon: Daemon;
  let lockServer: LockServerProcess;

  before(async () => {
    [postgres, lockServer] = await Promise.all([startPostgres({ settings: { deadlock_timeout: '5s' } }), startLockServerProcess()]);
    daemon = await startWatchingDaemon(pgUrl(postgres), ['--pg-resolve']);
    await createAccounts(postgres);
  });
  after(async () => {
    await cleanup(daemon, lockServer, postgres);
  });

  test(`${ROUNDS} rounds: one DeadlockError per deadlock, before PostgreSQL's own detector, both finish`, { timeout: 90_000 }, async (t) => {
    const before = await balances(postgres);
    const script = servicePath('app-row-cycle');
    const common = ['--daemon', daemon.url, '--pg', JSON.stringify(postgres.config), '--lock-port', String(lockServer.port), '--role', 'rows'];
    let errors = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const barrier = new ProcessBarrier(2);
      const [a, b] = await Promise.all([
        runService<Result>(script, [...common, '--service', 'orders', '--peer', 'billing', '--first', '1', '--second', '2', '--amount', '7'], {}, { barrier, killAfterMs: 50_000 }),
        runService<Result>(script, [...common, '--service', 'billing', '--peer', 'orders', '--first', '2', '--second', '1', '--amount', '3'], {}, { barrier, killAfterMs: 50_000 }),
      ]);
      const diag = () => `round ${round}\n${describeService('orders', a)}\n${describeService('billing', b)}\n--- daemon ---\n${daemon.logs(100)}\n--- postgres ---\n${postgres.logs().slice(-3000)}`;
      assert.equal(a.code, 0, diag());
      assert.equal(b.code, 0, diag());
      const [x, y] = [a.result!, b.result!];
      // no 40P01 (deadlock_detected) from PostgreSQL: it never chose a victim of its own
      assert.equal(x.errorCode, undefined, diag());
      assert.equal(y.errorCode, undefined, diag());
      assert.equal(x.deadlockErrors + y.deadlockErrors, 1, diag());
      errors += x.deadlockErrors + y.deadlockErrors;
      const report = [...x.reports, ...y.reports][0]!;
      // the members are the two backends, each named with its query
      assert.deepEqual(report.members.map((m) => m.service), ['postgres:postgres', 'postgres:postgres'], report.text);
      assert.match(report.text, new RegExp(`backend ${x.backendPid} \\(orders, user postgres\\): update accounts set balance = balance \\+`), report.text);
      assert.match(report.text, new RegExp(`backend ${y.backendPid} \\(billing, user postgres\\): update accounts set balance = balance \\+`), report.text);
      // ...beside the application's call site of that query
      assert.match(report.text, /at rows \(.*app-row-cycle\.(ts|js):\d+/, report.text);
      if (round === 1) t.diagnostic(report.text);
    }
    assert.equal(errors, ROUNDS);
    assert.deepEqual(await balances(postgres), [before[0]! - ROUNDS * 7 + ROUNDS * 3, before[1]! + ROUNDS * 7 - ROUNDS * 3]);
    assert.doesNotMatch(postgres.logs(), /deadlock detected/);
  });

  test('the safety-net sweep found nothing the incremental detection missed', { timeout: 30_000 }, () => assertSweepMissedNothing(daemon.httpUrl, () => daemon.logs()));
});
