// Issue 13: a database wait as the victim of a cycle through an app lock and a row lock. The
// lock-first service runs at a lower priority, so the victim is its UPDATE, which waits in
// PostgreSQL: the daemon tells that service which connection is the victim (an abort of its
// statement wait), re-checks with PostgreSQL that the backend still waits for the same blocker,
// then cancels it (pg_cancel_backend); the adapter turns the cancel (57014) into DeadlockError.
// And the stale view: when the blocker goes away between the decision and the cancel (forced
// here by holding the daemon's cancel statement in a proxy until the blocker rolled back and
// the victim's backend runs its next statement, which an unguarded cancel would kill), nothing
// is cancelled and the transfer simply completes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type Postgres } from '../src/embedded-pg.js';
import { cleanup, describeService, runService, servicePath, startLockServerProcess, type Daemon, type LockServerProcess } from '../src/harness.js';
import { LockClient } from '../src/lock-server.js';
import { startPgHoldProxy, type PgHoldProxy } from '../src/pg-hold-proxy.js';
import { ProcessBarrier } from '../src/process-barrier.js';
import { assertSweepMissedNothing } from '../src/prom-metrics.js';
import { until } from '../src/timing.js';
import { balances, createAccounts, pgUrl, startWatchingDaemon } from '../src/pg-accounts.js';

interface Result {
  moved: number;
  deadlockErrors: number;
  errorCode?: string;
  reports: Array<{ text: string; victim: { owner: string; waitId: string } | null }>;
  backendPid: number;
}

const CANCELLED = /canceling statement due to user request/g;

describe('issue 13: a database wait as the victim (embedded PostgreSQL, two processes)', () => {
  let postgres: Postgres;
  let daemon: Daemon;
  let lockServer: LockServerProcess;
  let proxy: PgHoldProxy;
  const sql = async <R extends Record<string, unknown>>(text: string): Promise<R[]> => {
    const c = postgres.client();
    await c.connect();
    try {
      return (await c.query<R>(text)).rows;
    } finally {
      await c.end();
    }
  };
  const start = (key: string, extraB: string[] = [], extraA: string[] = []) => {
    const barrier = new ProcessBarrier(2);
    const common = ['--daemon', daemon.url, '--pg', JSON.stringify(postgres.config), '--lock-port', String(lockServer.port)];
    const script = servicePath('app-row-cycle');
    return Promise.all([
      runService<Result>(script, [...common, '--service', `orders-${key}`, '--role', 'lock-first', '--amount', '7', '--priority', '-1', ...extraA], {}, { barrier, killAfterMs: 50_000 }),
      runService<Result>(script, [...common, '--service', `billing-${key}`, '--role', 'row-first', '--amount', '3', ...extraB], {}, { barrier, killAfterMs: 50_000 }),
    ]);
  };

  before(async () => {
    [postgres, lockServer] = await Promise.all([startPostgres(), startLockServerProcess()]);
    proxy = await startPgHoldProxy(postgres.port);
    // the daemon reaches PostgreSQL through the proxy, so that a test can hold its cancel
    daemon = await startWatchingDaemon(pgUrl(postgres, proxy.port));
    await createAccounts(postgres);
  });
  after(async () => {
    await cleanup(daemon, lockServer, postgres, proxy ? { stop: () => proxy.close() } : undefined);
  });

  test('the victim backend is cancelled; its service gets the one DeadlockError and both finish', { timeout: 60_000 }, async () => {
    const before = await balances(postgres);
    const cancelsBefore = (postgres.logs().match(CANCELLED) ?? []).length;
    const [a, b] = await start('cancel');
    const diag = () => `${describeService('orders', a)}\n${describeService('billing', b)}\n--- daemon ---\n${daemon.logs(100)}`;
    assert.equal(a.code, 0, diag());
    assert.equal(b.code, 0, diag());
    const [x, y] = [a.result!, b.result!];
    assert.equal(x.errorCode, undefined, diag());
    assert.equal(y.errorCode, undefined, diag());
    // the victim was the lower-priority service's UPDATE, a wait in the database
    assert.equal(x.deadlockErrors, 1, diag());
    assert.equal(y.deadlockErrors, 0, diag());
    assert.match(x.reports[0]!.text, /victim: task 'orders-cancel lock-first transfer'/);
    assert.deepEqual(await balances(postgres), [before[0]! - 10, before[1]! + 10]);
    // ...cancelled for real on the server, once, and PostgreSQL detected nothing of its own
    await until(10_000, 'PostgreSQL to log the cancel', async () => (postgres.logs().match(CANCELLED) ?? []).length === cancelsBefore + 1 || undefined);
    assert.match(postgres.logs(), /canceling statement due to user request[\s\S]{0,300}?update accounts/);
    assert.doesNotMatch(postgres.logs(), /deadlock detected/);
    await daemon.waitForLog(/cancelled the victim backend/);
  });

  test('stale view: a blocker that ends between the decision and the cancel is never cancelled', { timeout: 60_000 }, async () => {
    const before = await balances(postgres);
    const cancelsBefore = (postgres.logs().match(CANCELLED) ?? []).length;
    proxy.arm('pg_cancel_backend');
    const services = start('stale', ['--give-up-key', 'give-up'], ['--sleep-after-debit-ms', '5000']);
    let released = false;
    try {
      // the daemon decided and sent its guarded cancel: hold it there
      await Promise.race([proxy.held(), services.then(() => assert.fail('the services ended before the daemon tried to cancel'))]);
      // the blocker goes away: the row-first side stops waiting for the app lock and rolls back
      const locks = await LockClient.connect(lockServer.port);
      await locks.set('give-up', 1);
      await locks.close();
      // the victim's UPDATE went through; its backend now runs the next statement (pg_sleep):
      // a cancel now, on the stale view, would kill that statement
      await until(20_000, 'the victim backend to run its next statement', async () =>
        (await sql(`select pid from pg_stat_activity where state = 'active' and query like 'select pg_sleep%'`)).length === 1 || undefined);
      proxy.release();
      released = true;
    } finally {
      if (!released) proxy.release();
    }
    const [a, b] = await services;
    const diag = () => `${describeService('orders', a)}\n${describeService('billing', b)}\n--- daemon ---\n${daemon.logs(100)}`;
    assert.equal(a.code, 0, diag());
    assert.equal(b.code, 0, diag());
    const [x, y] = [a.result!, b.result!];
    // the victim's UPDATE completed: no DeadlockError, its transfer went through
    assert.equal(x.errorCode, undefined, diag());
    assert.equal(x.deadlockErrors, 0, diag());
    assert.equal(x.moved, 7, diag());
    assert.equal(y.errorCode, 'GAVE_UP', diag());
    assert.deepEqual(await balances(postgres), [before[0]! - 7, before[1]! + 7]);
    await daemon.waitForLog(/victim no longer waits for its blocker; nothing cancelled/);
    assert.equal((postgres.logs().match(CANCELLED) ?? []).length, cancelsBefore, postgres.logs());
  });

  test('the safety-net sweep found nothing the incremental detection missed', { timeout: 30_000 }, () => assertSweepMissedNothing(daemon.httpUrl, () => daemon.logs()));
});
