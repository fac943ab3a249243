// Reentrant locks against a real daemon: `dd.mutex(name, { reentrant: true })` and
// `dd.rwlock(name, { reentrant: true })` count re-acquisitions like Java's ReentrantLock and
// ReentrantReadWriteLock; the daemon counts the holds, so nothing is a deadlock and nobody is
// aborted. The default stays non-reentrant: a re-lock is a deadlock of one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlockError, type Client, type Held } from '@deadlockd/client';
import { assertSweepMissedNothing, deadlockCounters } from '../src/prom-metrics.js';
import { signal } from '../src/retried-task.js';
import { closeSdk, connectSdk, startWatchedSession, type WatchedSession } from '../src/watched-session.js';
import { until, within } from '../src/timing.js';

const T = { timeout: 30_000 };

describe('reentrant locks', () => {
  let s: WatchedSession;
  let eager: Client;
  before(async () => {
    s = await startWatchedSession('reentrant');
    // reports every hold and wait at once, so the daemon's hold counts are exercised too
    eager = await connectSdk(s.daemon.url, 'reentrant-eager', { reportAfterMs: 0, flushIntervalMs: 0 });
  });
  after(async () => {
    await closeSdk(eager);
    await s?.close();
  });

  test('a reentrant mutex: the holder re-locks at once, another owner gets it after the last release', T, async () => {
    const dd = eager;
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    const m = dd.mutex('re:m', { reentrant: true });
    const inner = signal();
    const release = signal();
    let otherGot = false;
    const holder = dd.task('holder', async () => {
      const a = await m.acquire();
      const b = await m.acquire(); // would wait for itself if not reentrant
      assert.equal(m.holdCount, 2);
      inner.fire();
      await release.promise;
      b.release();
      assert.equal(otherGot, false, 'still held after one of two releases');
      a.release();
    });
    await inner.promise;
    const other = dd.task('other', async () => {
      const h = await m.acquire();
      otherGot = true;
      h.release();
    });
    await until(10_000, 'the other task to queue', async () => (m.waiting === 1 ? true : undefined));
    release.fire();
    await within(10_000, 'both tasks to finish', Promise.all([holder, other]));
    assert.equal(otherGot, true);
    await expectDeadlocks(0);
  });

  test('the default mutex is not reentrant: a re-lock is a deadlock of one, aborted', T, async () => {
    const { dd } = s;
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    const m = dd.mutex('re:plain');
    const err = await dd.task('relocker', async () => {
      const h: Held = await m.acquire();
      try {
        await m.acquire();
        return undefined;
      } catch (e) {
        return e;
      } finally {
        h.release();
      }
    });
    assert.ok(err instanceof DeadlockError, 'DeadlockError');
    await expectDeadlocks(1);
    assert.throws(() => dd.mutex('re:plain', { reentrant: true }), /not reentrant/);
  });

  test('a reentrant rwlock: a reader re-reads past a queued writer (no deadlock); the writer reads, then downgrades', T, async () => {
    const dd = eager;
    const expectDeadlocks = await deadlockCounters(s.daemon.httpUrl);
    const rw = dd.rwlock('re:rw', { reentrant: true });
    const queued = signal();
    const reading = signal<Held>();
    const writer = dd.task('writer', async () => {
      await queued.promise; // once the reader holds it
      const w = await rw.acquire('exclusive');
      const r = await rw.acquire('shared'); // a writer may take the read lock
      w.release(); // downgrade: still reading
      assert.equal(rw.writeLocked, false, 'the write lock went');
      reading.fire(r);
    });
    const reader = dd.task('reader', async () => {
      const r1 = await rw.acquire('shared');
      queued.fire();
      await until(10_000, 'the writer to queue', async () => (rw.waiting === 1 ? true : undefined));
      // re-reading with a writer queued: a FIFO rwlock without reentrancy deadlocks here
      const again = await within(10_000, 're-read past the queued writer', rw.acquire('shared'));
      assert.equal(rw.readers, 2);
      again.release();
      r1.release();
    });
    await within(10_000, 'the reader', reader);
    const kept = await within(10_000, 'the writer to read', reading.promise);
    const other = await within(10_000, 'a reader next to the downgraded writer', dd.task('reader 2', async () => rw.acquire('shared')));
    other.release();
    kept.release();
    await writer;
    await expectDeadlocks(0);
  });

  test('the safety-net sweep found nothing the incremental detection missed', T, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
