// The advisory-lock adapter's release() against a real PostgreSQL: a second release rejects
// with ERR_NOT_HELD at once, even while the first one's pg_advisory_unlock is still running,
// and never unlocks a second time. Advisory locks are re-entrant per session, so a second
// unlock would silently drop another hold the same session has on the key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@deadlockd/client';
import { advisoryLock } from '@deadlockd/client/pg-advisory';
import type pg from 'pg';
import { startPostgres, type Postgres } from '../src/embedded-pg.js';
import { cleanup, type Daemon } from '../src/harness.js';
import { closeSdk, connectSdk, startSweepingDaemon } from '../src/watched-session.js';
import { TEST_TIMEOUT } from '../src/timing.js';

const KEY = 4242;

describe('advisory lock release', () => {
  let postgres: Postgres;
  let daemon: Daemon;
  let dd: Client | undefined;
  let db: pg.Client;
  before(async () => {
    [postgres, daemon] = await Promise.all([startPostgres(), startSweepingDaemon()]);
    dd = await connectSdk(daemon.url, 'advisory-release');
    db = postgres.client();
    await db.connect();
  });
  after(async () => {
    await db?.end().catch(() => {});
    await closeSdk(dd);
    await cleanup(daemon, postgres);
  });

  /** how many times this session holds the key (pg_locks shows one row; the count is the session's) */
  const heldBySession = async () =>
    (await db.query<{ n: string }>(`select count(*) as n from pg_locks where locktype = 'advisory' and granted and objid = $1 and pid = pg_backend_pid()`, [KEY])).rows[0]!.n;

  test('a second release while the first is running rejects with ERR_NOT_HELD and unlocks nothing more', TEST_TIMEOUT, async () => {
    // the session already holds the key once on its own (re-entrant), then once through the adapter
    await db.query('select pg_advisory_lock($1::int8)', [KEY]);
    const h = await advisoryLock(dd!, db, KEY).acquire();
    const first = h.release();
    const second = h.release(); // the first unlock is still in flight
    await assert.rejects(second, (e: unknown) => (e as { code?: string }).code === 'ERR_NOT_HELD');
    await first;
    assert.equal(h.released, true);
    // exactly one unlock happened: the session's own hold is still there
    assert.equal(await heldBySession(), '1');
    const unlock = await db.query<{ ok: boolean }>('select pg_advisory_unlock($1::int8) as ok', [KEY]);
    assert.equal(unlock.rows[0]!.ok, true, "the session's own hold was intact");
    assert.equal(await heldBySession(), '0');
  });
});
