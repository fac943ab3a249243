// The PostgreSQL source's settings: a repeatable flag, boolean flags, env, and errors that never
// echo a connection string (it may carry a password).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../src/index.js';
import { watchTarget } from '../src/pg-source/index.js';

describe('config: the PostgreSQL source', () => {
  it('is off by default', () => {
    assert.deepEqual(DEFAULT_CONFIG.watchPostgres, []);
    assert.equal(DEFAULT_CONFIG.pgPollMs, 50);
    assert.equal(DEFAULT_CONFIG.pgResolve, false);
    assert.equal(DEFAULT_CONFIG.pgCancelUnowned, false);
  });

  it('--watch-postgres repeats; --pg-resolve and --pg-cancel-unowned take no value', () => {
    const c = loadConfig(['--watch-postgres', 'postgresql://u@a/db1', '--watch-postgres', 'host=b dbname=db2', '--pg-resolve', '--pg-cancel-unowned', '--pg-poll-ms', '20'], {});
    assert.deepEqual(c.watchPostgres, ['postgresql://u@a/db1', 'host=b dbname=db2']);
    assert.equal(c.pgResolve, true);
    assert.equal(c.pgCancelUnowned, true);
    assert.equal(c.pgPollMs, 20);
  });

  it('env: URLs separated by spaces, booleans as true/false', () => {
    const c = loadConfig([], { DEADLOCKD_WATCH_POSTGRES: 'postgres://a/x  postgres://b/y', DEADLOCKD_PG_RESOLVE: 'true', DEADLOCKD_PG_CANCEL_UNOWNED: 'false' });
    assert.deepEqual(c.watchPostgres, ['postgres://a/x', 'postgres://b/y']);
    assert.equal(c.pgResolve, true);
    assert.equal(c.pgCancelUnowned, false);
  });

  it('a bad value is a clear error that never shows the connection string', () => {
    assert.throws(() => loadConfig(['--watch-postgres', 'mysql://root:s3cret@db/x'], {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /--watch-postgres \(DEADLOCKD_WATCH_POSTGRES\).*a postgres:\/\/ URL .*or a key=value connection string/);
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
    assert.throws(() => loadConfig([], { DEADLOCKD_PG_RESOLVE: 'maybe' }), /--pg-resolve \(DEADLOCKD_PG_RESOLVE\)/);
    assert.throws(() => loadConfig(['--pg-poll-ms', '0'], {}), /--pg-poll-ms/);
  });

  it('<namespace>=postgres://… feeds that namespace; a plain URL or key=value string the default one', () => {
    assert.deepEqual(loadConfig(['--watch-postgres', 'billing=postgres://u@h/db'], {}).watchPostgres, ['billing=postgres://u@h/db']);
    assert.deepEqual(watchTarget('billing=postgres://u@h/db'), { namespace: 'billing', connectionString: 'postgres://u@h/db' });
    assert.deepEqual(watchTarget('postgres://u@h/db?sslmode=require'), { namespace: 'default', connectionString: 'postgres://u@h/db?sslmode=require' });
    assert.deepEqual(watchTarget('host=h dbname=db'), { namespace: 'default', connectionString: 'host=h dbname=db' });
  });
});
