// The idioms users bring from async-mutex and the JDK: `using` / `await using` on holds,
// runExclusive(fn), and tryAcquire() (immediate, never a wait). Local semantics run fail-open
// (no daemon); what reaches the wire is pinned against the fake daemon.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client, type Held } from '../src/index.js';
import { IMMEDIATE, deadPort, quietLogger, sdkFixture } from './fake-daemon.js';

let dd: Client;
before(async () => {
  const port = await deadPort();
  dd = await connect({ url: `ws://127.0.0.1:${port}/v1/stream`, service: 'idioms', connectTimeoutMs: 50, reconnect: false, logger: quietLogger() });
});
after(async () => {
  await dd.close();
});

/** lets pending local grants (promise reactions) run; no clock involved */
const drain = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('using / await using', () => {
  it('`using` releases the hold when the block ends, also by a throw', async () => {
    const m = dd.mutex('using-1');
    {
      using h = await m.acquire();
      assert.equal(m.locked, true);
      assert.equal(h.released, false);
    }
    assert.equal(m.locked, false);
    await assert.rejects(async () => {
      using _h = await m.acquire();
      throw new Error('boom');
    }, /boom/);
    assert.equal(m.locked, false, 'released on the way out of the throw');
  });

  it('disposing a hold already released does nothing (release() twice still throws)', async () => {
    const m = dd.mutex('using-2');
    let kept: Held | undefined;
    {
      using h = await m.acquire();
      kept = h;
      h.release();
      const next = m.tryAcquire();
      assert.ok(next, 'free after the explicit release');
      next.release();
    }
    assert.equal(m.locked, false);
    assert.throws(() => kept?.release(), (e: Error & { code?: string }) => e.code === 'ERR_NOT_HELD');
  });

  it('`await using` on semaphore and rwlock holds', async () => {
    const s = dd.semaphore('using-sem', 2);
    const rw = dd.rwlock('using-rw');
    {
      await using a = await s.acquire({ units: 2 });
      await using r = await rw.acquire('shared');
      assert.equal(s.available, 0);
      assert.equal(rw.readers, 1);
      assert.equal(a.resource, 'using-sem');
      assert.equal(r.resource, 'using-rw');
    }
    assert.equal(s.available, 2);
    assert.equal(rw.readers, 0);
  });

  it('a shared resource disposed with `await using` gives the real lock back through `release`, then reports', async () => {
    const r = dd.resource('using-dist');
    const log: string[] = [];
    {
      await using h = await r.acquire(() => 'lease-1', { release: async (lease) => void log.push(`released ${lease}`) });
      assert.equal(h.value, 'lease-1');
    }
    assert.deepEqual(log, ['released lease-1']);
  });

  it('Symbol.dispose and Symbol.asyncDispose are the runtime symbols (Node 20 defines them)', () => {
    assert.equal(typeof Symbol.dispose, 'symbol');
    assert.equal(typeof Symbol.asyncDispose, 'symbol');
  });
});

describe('runExclusive', () => {
  it('runs fn under the lock, one at a time, and releases on success and on throw', async () => {
    const m = dd.mutex('run-1');
    let inside = 0;
    let most = 0;
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        dd.task(`r${i}`, () =>
          m.runExclusive(async () => {
            inside++;
            most = Math.max(most, inside);
            await drain();
            inside--;
            return i * 10;
          }),
        ),
      ),
    );
    assert.deepEqual(results, [10, 20, 30]);
    assert.equal(most, 1);
    await assert.rejects(m.runExclusive(() => Promise.reject(new Error('inner'))), /inner/);
    assert.equal(m.locked, false);
  });

  it('semaphore.runExclusive takes units; rwlock has runExclusive and runShared', async () => {
    const s = dd.semaphore('run-sem', 3);
    assert.equal(await s.runExclusive(() => s.available, { units: 2 }), 1);
    assert.equal(s.available, 3);
    const rw = dd.rwlock('run-rw');
    assert.equal(await rw.runShared(() => rw.readers), 1);
    assert.equal(await rw.runExclusive(() => rw.writeLocked), true);
    assert.equal(rw.writeLocked, false);
  });
});

describe('tryAcquire', () => {
  it('mutex: a hold when free, null when held or when acquires queue (never barges)', async () => {
    const m = dd.mutex('try-1');
    const h = m.tryAcquire();
    assert.ok(h);
    assert.equal(m.locked, true);
    assert.equal(await dd.task('other', () => m.tryAcquire()), null, 'held by another owner');
    const waiting = dd.task('waiter', () => m.acquire());
    await drain();
    h.release(); // granted to the queued waiter at once
    const w = await waiting;
    assert.equal(m.tryAcquire(), null);
    w.release();
    assert.equal(m.locked, false);
    using again = m.tryAcquire();
    assert.ok(again);
  });

  it('non-reentrant: the holder trying again gets null (no self-deadlock); reentrant: granted and counted', async () => {
    const plain = dd.mutex('try-plain');
    const re = dd.mutex('try-re', { reentrant: true });
    await dd.task('holder', async () => {
      using a = plain.tryAcquire();
      assert.ok(a);
      assert.equal(plain.tryAcquire(), null);
      using b = re.tryAcquire();
      using c = re.tryAcquire();
      assert.ok(b && c);
      assert.equal(re.holdCount, 2);
    });
    assert.equal(plain.locked, false);
    assert.equal(re.holdCount, 0);
  });

  it('semaphore units and rwlock modes', async () => {
    const s = dd.semaphore('try-sem', 2);
    const two = s.tryAcquire({ units: 2 });
    assert.ok(two);
    assert.equal(s.tryAcquire(), null);
    two.release();
    assert.throws(() => s.tryAcquire({ units: 3 }), RangeError);
    const rw = dd.rwlock('try-rw');
    const r1 = rw.tryAcquire('shared');
    const r2 = await dd.task('reader2', () => rw.tryAcquire('shared'));
    assert.ok(r1 && r2, 'readers share');
    assert.equal(await dd.task('writer', () => rw.tryAcquire('exclusive')), null);
    r1.release();
    r2.release();
    assert.throws(() => rw.tryAcquire('both' as 'shared'), TypeError);
  });
});

describe('on the wire', () => {
  const fixture = sdkFixture({ service: 'idioms-wire', ...IMMEDIATE });

  it('tryAcquire reports a hold, never a wait, and a failed try sends nothing', async () => {
    const { daemon, dd: c } = await fixture.setup();
    const m = c.mutex('try-wire');
    const h = m.tryAcquire();
    assert.ok(h);
    assert.equal(await c.task('loser', () => m.tryAcquire()), null);
    await daemon.barrier(c);
    const facts = daemon.facts();
    assert.deepEqual(facts.map((e) => e.type), ['hold']);
    assert.equal(daemon.events().some((e) => e.type === 'owner' && e.name === 'loser'), false, 'the failed try left no trace');
    h.release();
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'release'), 'the release');
  });

  it('a hold released by `using` is reported released', async () => {
    const { daemon, dd: c } = await fixture.setup();
    const m = c.mutex('using-wire');
    {
      using _h = await m.acquire();
      await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'hold'), 'the hold');
    }
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'release' && e.resource === 'using-wire'), 'the release');
  });
});
