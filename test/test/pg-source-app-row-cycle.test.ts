// Issue 13: a cycle through an application lock and a PostgreSQL row lock, across two service
// processes. Service A holds the app lock `ledger` and UPDATEs row 1, which waits for service B's
// open transaction; B, before committing, waits for `ledger`. PostgreSQL sees one backend waiting
// and nothing wrong; each app sees one task waiting. The daemon, watching the database
// (--watch-postgres), sees the whole cycle: exactly one DeadlockError, both services finish
// through retryOnDeadlock, and the money in the real table is conserved. Without the daemon the
// same schedule waits until lock_timeout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type Postgres } from '../src/embedded-pg.js';
import { cleanup, describeService, runService, servicePath, startLockServerProcess, type Daemon, type LockServerProcess } from '../src/harness.js';
import { ProcessBarrier } from '../src/process-barrier.js';
import { assertSweepMissedNothing } from '../src/prom-metrics.js';
import { balances, createAccounts, pgUrl, startWatchingDaemon } from '../src/pg-accounts.js';

interface Result {
  service: string;
  role: string;
  moved: number;
  deadlockErrors: number;
  errorCode?: string;
  elapsedMs: number;
  reports: Array<{ text: string; members: Array<{ service: string; name: string }> }>;
  backendPid: number;
  attempts: number;
}

const LOCK_TIMEOUT_MS = 1_000;

describe('issue 13: a cycle through an app lock and a row lock (embedded PostgreSQL, two processes)', () => {
  let postgres: Postgres;
  let daemon: Daemon;
  let lockServer: LockServerProcess;
  const run = (daemonUrl: string, extra: string[][], ...more: string[]) => {
    const barrier = new ProcessBarrier(2);
    const common = ['--daemon', daemonUrl, '--pg', JSON.stringify(postgres.config), '--lock-port', String(lockServer.port), ...more];
    const script = servicePath('app-row-cycle');
    return Promise.all([
      runService<Result>(script, [...common, '--service', 'orders', '--role', 'lock-first', '--amount', '7', ...(extra[0] ?? [])], {}, { barrier, killAfterMs: 50_000 }),
      runService<Result>(script, [...common, '--service', 'billing', '--role', 'row-first', '--amount', '3', '--peer', 'orders', ...(extra[1] ?? [])], {}, { barrier, killAfterMs: 50_000 }),
    ]);
  };

  before(async () => {
    [postgres, lockServer] = await Promise.all([startPostgres(), startLockServerProcess()]);
    daemon = await startWatchingDaemon(pgUrl(postgres), ['--log-level', 'debug']);
    await createAccounts(postgres);
  });
  after(async () => {
    await cleanup(daemon, lockServer, postgres);
  });

  test('exactly one DeadlockError, both services finish, the money is conserved', { timeout: 60_000 }, async () => {
    const before = await balances(postgres);
    const [a, b] = await run(daemon.url, []);
    const diag = () => `${describeService('orders (lock-first)', a)}\n${describeService('billing (row-first)', b)}\n--- daemon ---\n${daemon.logs(200)}`;
    assert.equal(a.code, 0, diag());
    assert.equal(b.code, 0, diag());
    const [x, y] = [a.result!, b.result!];
    assert.equal(x.errorCode, undefined, diag());
    assert.equal(y.errorCode, undefined, diag());
    assert.equal(x.deadlockErrors + y.deadlockErrors, 1, diag());
    assert.equal(x.moved + y.moved, 10);
    const after = await balances(postgres);
    assert.deepEqual(after, [before[0]! - 10, before[1]! + 10]);

    // the report crosses the layers: both services' tasks and both backends, the row in words
    const report = [...x.reports, ...y.reports][0]!;
    const services = report.members.map((m) => m.service).sort();
    assert.deepEqual(services, ['billing', 'orders', 'postgres:postgres', 'postgres:postgres'], report.text);
    assert.match(report.text, /row \(\d+,\d+\) of accounts|transaction \d+/, report.text);
    assert.match(report.text, new RegExp(`backend ${x.backendPid} \\(orders, user postgres\\): update accounts`), report.text);
    console.log(`mixed app x row-lock cycle, the report:\n${report.text}`);
  });

  test('without deadlockd the same schedule waits until lock_timeout', { timeout: 60_000 }, async () => {
    const before = await balances(postgres);
    const lt = ['--lock-timeout-ms', String(LOCK_TIMEOUT_MS)];
    const [a, b] = await run('ws://127.0.0.1:9/v1/stream', [lt, lt], '--no-daemon');
    const diag = () => `${describeService('orders', a)}\n${describeService('billing', b)}`;
    assert.equal(a.code, 0, diag());
    assert.equal(b.code, 0, diag());
    const [x, y] = [a.result!, b.result!];
    // the lock-first side's UPDATE waited for the row until lock_timeout, then failed
    assert.equal(x.errorCode, '55P03', diag()); // lock_not_available
    assert.ok(x.elapsedMs >= LOCK_TIMEOUT_MS, `${x.elapsedMs} ms`);
    assert.equal(x.deadlockErrors + y.deadlockErrors, 0);
    assert.equal(y.moved, 3);
    assert.deepEqual(await balances(postgres), [before[0]! - 3, before[1]! + 3]);
  });

  test('the safety-net sweep found nothing the incremental detection missed', { timeout: 30_000 }, () => assertSweepMissedNothing(daemon.httpUrl, () => daemon.logs()));
});
