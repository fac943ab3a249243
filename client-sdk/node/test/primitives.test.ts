// Local semantics of the primitives (no daemon: the client runs fail-open).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AcquireTimeoutError, connect, type Client, type Held } from '../src/index.js';
import { deadPort, quietLogger, sleep } from './fake-daemon.js';

let dd: Client;
before(async () => {
  const port = await deadPort();
  dd = await connect({
    url: `ws://127.0.0.1:${port}/v1/stream`,
    service: 'prims',
    connectTimeoutMs: 50,
    reconnect: false,
    logger: quietLogger(),
  });
});
after(async () => {
  await dd.close();
});

/**
 * Lets every pending local grant run: grants are promise reactions (microtasks), which all run
 * before a setImmediate callback. Not a wait for time: nothing here depends on the clock.
 */
function drain(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** a tiny helper: a promise state probe */
function track<T>(p: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (v) => Object.assign(s, { done: true, value: v }),
    (e: unknown) => Object.assign(s, { done: true, error: e }),
  );
  return s;
}

describe('mutex', () => {
  it('grants in FIFO order and never to two holders at once', async () => {
    const m = dd.mutex('fifo');
    const order: number[] = [];
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        dd.task(`t${i}`, async () => {
          const h = await m.acquire();
          try {
            inside++;
            maxInside = Math.max(maxInside, inside);
            order.push(i);
            await sleep(3 * ((i * 7) % 4));
          } finally {
            inside--;
            h.release();
          }
        }),
      ),
    );
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(maxInside, 1);
    assert.equal(m.locked, false);
  });

  it('is not re-entrant: a relock by the same owner waits (here until its timeout)', async () => {
    const m = dd.mutex('relock');
    await dd.task('self', async () => {
      const h = await m.acquire();
      await assert.rejects(m.acquire({ timeoutMs: 30 }), (e: unknown) => {
        assert.ok(e instanceof AcquireTimeoutError);
        assert.equal(e.code, 'ERR_ACQUIRE_TIMEOUT');
        return true;
      });
      h.release();
    });
    assert.equal(m.locked, false);
    assert.equal(m.waiting, 0);
  });

  it('a second release throws ERR_NOT_HELD', async () => {
    const h = await dd.mutex('twice').acquire();
    h.release();
    assert.equal(h.released, true);
    assert.throws(() => h.release(), (e: unknown) => (e as { code?: string }).code === 'ERR_NOT_HELD');
  });

  it('an aborted signal rejects with its reason and leaves the queue', async () => {
    const m = dd.mutex('signal');
    const h = await m.acquire();
    const ac = new AbortController();
    const waiting = m.acquire({ signal: ac.signal });
    const next = track(m.acquire());
    ac.abort(new Error('user gave up'));
    await assert.rejects(waiting, /user gave up/);
    assert.equal(m.waiting, 1);
    h.release();
    await drain();
    assert.equal(next.done, true);
    (next.value as Held).release();
    // already aborted: rejects at once even though the mutex is free
    await assert.rejects(m.acquire({ signal: AbortSignal.abort() }), (e: unknown) => (e as Error).name === 'AbortError');
    assert.equal(m.locked, false);
  });

  it('a timeout in the middle of the queue lets the ones behind go in order', async () => {
    const m = dd.mutex('timeout-mid');
    const h = await m.acquire();
    const a = track(m.acquire());
    const b = m.acquire({ timeoutMs: 10 });
    const c = track(m.acquire());
    await assert.rejects(b, AcquireTimeoutError);
    h.release();
    await drain();
    assert.equal(a.done, true);
    assert.equal(c.done, false);
    (a.value as Held).release();
    await drain();
    assert.equal(c.done, true);
    (c.value as Held).release();
  });

  it('one name is one instance; another kind under that name throws', () => {
    assert.equal(dd.mutex('same'), dd.mutex('same'));
    assert.throws(() => dd.semaphore('same', 2), /already a mutex/);
    assert.throws(() => dd.rwlock('same'), TypeError);
  });
});

describe('semaphore', () => {
  it('admits up to capacity and queues the rest', async () => {
    const s = dd.semaphore('pool', 2);
    const h1 = await s.acquire();
    const h2 = await s.acquire();
    const third = track(s.acquire());
    await drain();
    assert.equal(third.done, false);
    assert.equal(s.inUse, 2);
    h1.release();
    await drain();
    assert.equal(third.done, true);
    h2.release();
    (third.value as Held).release();
    assert.equal(s.inUse, 0);
  });

  it('is strictly FIFO: a big request at the head is not overtaken by smaller ones', async () => {
    const s = dd.semaphore('fifo-units', 3);
    const h = await s.acquire({ units: 2 });
    const big = track(s.acquire({ units: 2 }));
    const small = track(s.acquire({ units: 1 }));
    await drain();
    assert.equal(big.done, false);
    assert.equal(small.done, false, 'one unit is free, but the 2-unit request is ahead');
    h.release();
    await drain();
    assert.equal(big.done, true);
    assert.equal(small.done, true);
    assert.equal(s.inUse, 3);
    (big.value as Held).release();
    (small.value as Held).release();
  });

  it('setCapacity grows and shrinks; holders keep their units', async () => {
    const s = dd.semaphore('resize', 1);
    const h = await s.acquire();
    const w = track(s.acquire());
    s.setCapacity(2);
    await drain();
    assert.equal(w.done, true);
    s.setCapacity(1);
    assert.equal(s.inUse, 2);
    const x = track(s.acquire());
    h.release();
    await drain();
    assert.equal(x.done, false, 'still 1 in use of capacity 1');
    (w.value as Held).release();
    await drain();
    assert.equal(x.done, true);
    (x.value as Held).release();
  });

  it('rejects requests that can never fit or are not positive integers', async () => {
    const s = dd.semaphore('bad', 2);
    await assert.rejects(s.acquire({ units: 3 }), RangeError);
    await assert.rejects(s.acquire({ units: 0 }), RangeError);
    assert.throws(() => dd.semaphore('bad-cap', 0), RangeError);
  });

  it('a timed-out head request unblocks the smaller ones behind it', async () => {
    const s = dd.semaphore('head-timeout', 2);
    const h = await s.acquire();
    const big = s.acquire({ units: 2, timeoutMs: 10 });
    const small = track(s.acquire());
    await assert.rejects(big, AcquireTimeoutError);
    await drain();
    assert.equal(small.done, true);
    h.release();
    (small.value as Held).release();
  });
});

describe('rwlock', () => {
  it('shares among readers and excludes a writer', async () => {
    const l = dd.rwlock('rw');
    const r1 = await l.acquire('shared');
    const r2 = await l.acquire('shared');
    assert.equal(l.readers, 2);
    // another owner (a task) asks exclusive; main holding shared and asking exclusive would be an upgrade
    const w = track(dd.task('writer', () => l.acquire('exclusive')));
    await drain();
    assert.equal(w.done, false);
    r1.release();
    await drain();
    assert.equal(w.done, false);
    r2.release();
    await drain();
    assert.equal(w.done, true);
    assert.equal(l.writeLocked, true);
    (w.value as Held).release();
  });

  it('does not starve writers: a reader arriving behind a waiting writer queues', async () => {
    const l = dd.rwlock('rw-fifo');
    const order: string[] = [];
    const r1 = await l.acquire('shared');
    const w = dd.task('writer', () => l.acquire('exclusive')).then((h) => (order.push('writer'), h));
    const r2 = dd.task('reader2', () => l.acquire('shared')).then((h) => (order.push('reader2'), h));
    await drain();
    assert.deepEqual(order, []);
    r1.release();
    const hw = await w;
    assert.deepEqual(order, ['writer']);
    hw.release();
    (await r2).release();
    assert.deepEqual(order, ['writer', 'reader2']);
  });

  it('upgrade: a shared holder asking exclusive waits only for the other shared holders', async () => {
    const l = dd.rwlock('upgrade');
    let releaseB!: () => void;
    const bHolds = new Promise<void>((r) => (releaseB = r));
    const bStarted = new Promise<void>((started) => {
      void dd.task('B', async () => {
        const h = await l.acquire('shared');
        started();
        await bHolds;
        h.release();
      });
    });
    await bStarted;
    await dd.task('A', async () => {
      const shared = await l.acquire('shared');
      // a writer C queues first; A's upgrade must still go ahead of it (it waits only for B)
      const c = track(dd.task('C', async () => (await l.acquire('exclusive')).release()));
      await drain();
      const up = track(l.acquire('exclusive'));
      await drain();
      assert.equal(up.done, false, 'B still holds shared');
      releaseB();
      await drain();
      assert.equal(up.done, true, 'granted once B left, ahead of C');
      assert.equal(c.done, false);
      assert.equal(l.writeLocked, true);
      (up.value as Held).release();
      shared.release();
      await drain();
      assert.equal(c.done, true);
    });
    assert.equal(l.readers, 0);
    assert.equal(l.writeLocked, false);
  });

  it('the only shared holder upgrades at once', async () => {
    const l = dd.rwlock('sole-upgrade');
    await dd.task('solo', async () => {
      const s = await l.acquire('shared');
      const x = await l.acquire('exclusive', { timeoutMs: 10_000 });
      x.release();
      s.release();
    });
  });

  it('rejects an unknown mode', async () => {
    await assert.rejects(dd.rwlock('mode').acquire('read' as 'shared'), TypeError);
  });
});
