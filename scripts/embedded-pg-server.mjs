// Starts the embedded PostgreSQL the Node tests use (test/src/embedded-pg.ts, from npm alone) for the
// tests of the other SDKs (Python's conftest.py, Java's Postgres.java), prints its connection settings
// as one JSON line, and stops it when stdin closes (the test process ends, or dies) or on SIGTERM.
import { startPostgres } from '@deadlockd/e2e/embedded-pg';

// PostgreSQL's own deadlock detector would end a cross-process advisory-lock deadlock after its
// default 1 s; the tests are about deadlockd resolving it, so PostgreSQL waits far longer.
const pg = await startPostgres({ settings: { deadlock_timeout: '60s' } });
process.stdout.write(JSON.stringify(pg.config) + '\n');
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await pg.stop();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
