// Issue 8 end to end: many opposite transfers on two FIFO mutexes, each under retryOnDeadlock,
// against a real daemon. Every transfer finishes; the daemon aborts at most 3 per transfer, and
// never an owner that holds nothing (its abort would free nothing).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runContention, type ContentionOptions } from '../src/contention.js';
import { assertSweepMissedNothing } from '../src/prom-metrics.js';
import { startWatchedSession, type WatchedSession } from '../src/watched-session.js';
import { within } from '../src/timing.js';

// generous: a loaded 2-core machine runs N=200 in a few seconds; the limit only names a hang
const HANG_MS = 240_000;
const RETRY = { retries: 1_000 };

describe('contention: retries make progress, victims hold what the deadlock needs', () => {
  let s: WatchedSession;
  before(async () => {
    s = await startWatchedSession('contention');
  });
  after(async () => {
    await s?.close();
  });

  const cases: [string, ContentionOptions][] = [
    ['N=50 opposite transfers on two mutexes', { accounts: 2, workers: 50, transfersPerWorker: 1, gapMs: 2, pattern: 'opposite', retry: RETRY, prefix: 'n50' }],
    ['N=200 opposite transfers on two mutexes', { accounts: 2, workers: 200, transfersPerWorker: 1, gapMs: 2, pattern: 'opposite', retry: RETRY, prefix: 'n200' }],
    ['5 hot accounts x 10 workers (5 transfers each, random pairs)', { accounts: 5, workers: 10, transfersPerWorker: 5, gapMs: 2, pattern: 'random', seed: 7, retry: RETRY, prefix: 'hot5' }],
  ];
  for (const [name, opts] of cases) {
    test(`${name}: all finish, aborts <= 3 per transfer, none of an owner holding nothing`, { timeout: HANG_MS + 10_000 }, async () => {
      const r = await within(HANG_MS, `${name} to finish`, runContention(s.dd, opts), () => s.daemon.logs());
      const n = r.transfers;
      process.stdout.write(`# ${name}: ${JSON.stringify(r)}\n`);
      assert.equal(r.completed, n, 'every transfer completed');
      assert.ok(r.conserved, 'money is conserved');
      assert.ok(r.aborts <= 3 * n, `${r.aborts} aborts for ${n} transfers (at most ${3 * n})`);
      assert.equal(r.emptyHandedAborts, 0, `${r.emptyHandedAborts} aborts hit an owner holding nothing`);
    });
  }

  test('the safety-net sweep found nothing the incremental detection missed', { timeout: 30_000 }, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
