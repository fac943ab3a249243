// Shared and counted cross-process resources: dd.resource(name, { mode: 'shared' }) is a
// cross-process readers-writer lock, dd.resource(name, { capacity }) a counted one (a distributed
// semaphore, a database's connection limit). Two clients against a real daemon; the "real" locks
// are an in-memory stand-in shared by both (what a lock server would do).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlockError, type Client } from '@deadlockd/client';
import { deadlockCounters } from '../src/prom-metrics.js';
import { signal } from '../src/retried-task.js';
import { closeSdk, connectSdk, startSweepingDaemon } from '../src/watched-session.js';
import { cleanup, type Daemon } from '../src/harness.js';
import { within } from '../src/timing.js';

/** The real cross-process resource: `capacity` units; shared takes 1, exclusive all. */
class RealCounted {
  private used = 0;
  private readonly waiters = new Set<() => void>();
  constructor(readonly capacity: number) {}
  acquire(units: number, signal: AbortSignal): Promise<number> {
    return new Promise((resolve, reject) => {
      const tryTake = () => {
        if (this.used + units > this.capacity) return false;
        this.used += units;
        this.waiters.delete(tryTake);
        resolve(units);
        return true;
      };
      if (tryTake()) return;
      this.waiters.add(tryTake);
      signal.addEventListener('abort', () => {
        this.waiters.delete(tryTake);
        reject(signal.reason);
      });
    });
  }
  release(units: number): void {
    this.used -= units;
    for (const w of [...this.waiters]) w();
  }
}
const ALL = 1_000;

describe('shared and counted cross-process resources', () => {
  let daemon: Daemon;
  let x: Client;
  let y: Client;
  before(async () => {
    daemon = await startSweepingDaemon();
    x = await connectSdk(daemon.url, 'svc-x', { reportAfterMs: 0 });
    y = await connectSdk(daemon.url, 'svc-y', { reportAfterMs: 0 });
  });
  after(async () => {
    await closeSdk(x);
    await closeSdk(y);
    await cleanup(daemon);
  });

  /** x holds `first`, then asks for `second`; y the other way round. */
  async function cross(
    first: (dd: Client) => Promise<() => void>,
    second: (dd: Client) => Promise<() => void>,
    firstY: (dd: Client) => Promise<() => void>,
    secondY: (dd: Client) => Promise<() => void>,
  ): Promise<(unknown)[]> {
    const both = signal();
    let n = 0;
    const run = (dd: Client, a: typeof first, b: typeof second) =>
      dd.task('t', async () => {
        const ra = await a(dd);
        try {
          if (++n === 2) both.fire();
          await both.promise;
          const rb = await b(dd);
          rb();
          return 'done';
        } catch (e) {
          return e;
        } finally {
          ra();
        }
      });
    return within(20_000, 'both tasks', Promise.all([run(x, first, second), run(y, firstY, secondY)]), () => daemon.logs());
  }

  test('two readers of a shared-mode resource never block each other: no false deadlock', { timeout: 30_000 }, async () => {
    const expect = await deadlockCounters(daemon.httpUrl);
    const cfg = new RealCounted(ALL);
    const lock = new RealCounted(1);
    const read = (dd: Client) => async () => {
      const h = await dd.resource('cfg', { mode: 'shared' }).acquire((s) => cfg.acquire(1, s), { mode: 'shared' });
      return () => (cfg.release(1), h.release());
    };
    const take = (dd: Client) => async () => {
      const h = await dd.resource('L').acquire((s) => lock.acquire(1, s));
      return () => (lock.release(1), h.release());
    };
    // x: cfg shared, then L; y: L, then cfg shared. As mutexes this would be a cycle; as reads it is none.
    const out = await cross((dd) => read(dd)(), (dd) => take(dd)(), (dd) => take(dd)(), (dd) => read(dd)());
    assert.deepEqual(out, ['done', 'done']);
    await expect(0);
  });

  test('a writer against a reader of a shared-mode resource, crossed with a lock: one deadlock, one victim', { timeout: 30_000 }, async () => {
    const expect = await deadlockCounters(daemon.httpUrl);
    const cfg = new RealCounted(ALL);
    const lock = new RealCounted(1);
    const acq = (dd: Client, mode: 'shared' | 'exclusive') => async () => {
      const u = mode === 'shared' ? 1 : ALL;
      const h = await dd.resource('cfg2', { mode: 'shared' }).acquire((s) => cfg.acquire(u, s), { mode });
      return () => (cfg.release(u), h.release());
    };
    const take = (dd: Client) => async () => {
      const h = await dd.resource('L2').acquire((s) => lock.acquire(1, s));
      return () => (lock.release(1), h.release());
    };
    const out = await cross((dd) => acq(dd, 'shared')(), (dd) => take(dd)(), (dd) => take(dd)(), (dd) => acq(dd, 'exclusive')());
    assert.equal(out.filter((o) => o instanceof DeadlockError).length, 1, String(out));
    assert.equal(out.filter((o) => o === 'done').length, 1);
    await expect(1);
  });

  test('a counted resource of 2: two holders each asking for one more deadlock; of 3 they do not', { timeout: 30_000 }, async () => {
    for (const [capacity, deadlocks] of [[3, 0], [2, 1]] as const) {
      const expect = await deadlockCounters(daemon.httpUrl);
      const conns = new RealCounted(capacity);
      const name = `db-connections-${capacity}`;
      const checkout = async (dd: Client) => {
        const h = await dd.resource(name, { capacity }).acquire((s) => conns.acquire(1, s), { units: 1 });
        return () => (conns.release(1), h.release());
      };
      const out = await cross(checkout, checkout, checkout, checkout);
      assert.equal(out.filter((o) => o instanceof DeadlockError).length, deadlocks, `capacity ${capacity}: ${String(out)}`);
      await expect(deadlocks);
    }
  });

  test('bad options are refused with a clear error', async () => {
    assert.throws(() => x.resource('bad', { capacity: 0 }), /capacity must be a positive integer/);
    assert.throws(() => x.resource('bad2', { capacity: 2, mode: 'shared' }), /not both/);
    x.resource('one');
    assert.throws(() => x.resource('one', { mode: 'shared' }), /other options/);
    await assert.rejects(x.resource('one').acquire(() => 1, { mode: 'shared' }), /acquire takes no mode/);
    await assert.rejects(x.resource('cap', { capacity: 2 }).acquire(() => 1, { units: 3 }), /has 2 units; 3 requested/);
  });
});
