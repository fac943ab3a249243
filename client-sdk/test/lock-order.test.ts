// Lock-order facts (`order` events) and nested checkouts: once per pair per connection, whatever
// reportAfterMs says, with declarations first and a call site; one local warning per pool.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Hazard } from '@deadlockd/proto';

import { sdkFixture } from './fake-daemon.js';

// the defaults (reportAfterMs 2): order facts do not wait for it
const { setup } = sdkFixture({ service: 'order', reconnect: { minDelayMs: 5, maxDelayMs: 10 } });

describe('lock order', () => {
  it('an acquire while holding sends order {held: newest hold, acquired} once per pair, short holds or not', async () => {
    const { daemon, dd } = await setup();
    const a = dd.mutex('a');
    const b = dd.mutex('b');
    const c = dd.mutex('c');
    for (let i = 0; i < 100; i++) {
      await dd.task('t', async () => {
        const ha = await a.acquire();
        const hb = await b.acquire(); // a -> b
        const hc = await c.acquire(); // b -> c (the newest hold, not a)
        hc.release();
        hb.release();
        ha.release();
      });
    }
    await daemon.waitFor(() => daemon.orders().length >= 2, 'two order facts');
    await daemon.barrier(dd);
    assert.deepEqual(daemon.orders().map((o) => [o.held, o.acquired]), [['a', 'b'], ['b', 'c']]);
    // (the owner of an order fact is declared with it, so that hazards name the task: its end follows)
    assert.deepEqual(daemon.facts().filter((e) => e.type !== 'end'), [], 'the holds themselves were too short to be reported');
    const ev = daemon.events();
    for (const o of daemon.orders()) {
      const at = ev.indexOf(o);
      for (const r of [o.held, o.acquired]) {
        assert.ok(ev.findIndex((e) => e.type === 'resource' && e.resource === r) < at, `${r} declared before the order fact`);
      }
      assert.match(o.stack ?? '', /lock-order\.test\.(js|ts)/);
      assert.match(o.owner ?? '', /^t\d+$/);
    }
  });

  it('an owner that holds nothing sends nothing; a reconnect sends known pairs again', async () => {
    const { daemon, dd } = await setup();
    const a = dd.mutex('a');
    (await a.acquire()).release();
    await daemon.barrier(dd);
    assert.deepEqual(daemon.orders(), []);
    const nest = async () => {
      const ha = await a.acquire();
      (await dd.mutex('b').acquire()).release();
      ha.release();
    };
    await nest();
    await daemon.waitFor(() => daemon.orders().length === 1, 'order');
    daemon.dropAll();
    await daemon.waitFor(() => daemon.ofType('hello').length === 2 && dd.connected, 'reconnect');
    await nest();
    await daemon.waitFor(() => daemon.orders().length === 2, 'the pair again on the new connection');
  });

  it('a nested checkout from a semaphore: order {pool, pool}, ONE local warning per pool, and the hazard event', async () => {
    const { daemon, dd, logger } = await setup();
    const pool = dd.semaphore('db', 4);
    const m = dd.mutex('m');
    const hazards: Hazard[] = [];
    dd.on('hazard', (h) => hazards.push(h));
    for (let i = 0; i < 5; i++) {
      await dd.task(`request ${i}`, async () => {
        const conn = await pool.acquire();
        const hm = await m.acquire();
        const second = await pool.acquire(); // newest hold is m, but db is held further down: still nested
        second.release();
        hm.release();
        conn.release();
      });
    }
    await daemon.waitFor(() => daemon.orders().length === 3, 'order facts');
    assert.deepEqual(daemon.orders().map((o) => [o.held, o.acquired]), [['db', 'm'], ['m', 'db'], ['db', 'db']]);
    const nested = logger.warnings.filter((w) => w.includes('nested checkout'));
    assert.equal(nested.length, 1, logger.warnings.join('\n'));
    assert.match(nested[0]!, /request 0/);
    assert.match(nested[0]!, /'db'/);
    const hazard: Hazard = {
      id: 'NP-1', kind: 'nested-pool-checkout', classes: ['order:db'], sites: [], crossService: false,
      firstSeen: 1, lastSeen: 1, text: 'POTENTIAL DEADLOCK (nested pool checkout) NP-1',
    };
    daemon.send({ type: 'hazard', hazard });
    await daemon.waitFor(() => hazards.length === 1, 'hazard event');
    assert.deepEqual(hazards[0], hazard);
  });

  it('while disconnected no order fact is buffered', async () => {
    const { dd } = await setup({ url: 'ws://127.0.0.1:1/v1/stream', connectTimeoutMs: 50, reconnect: false });
    const a = dd.mutex('a');
    for (let i = 0; i < 1000; i++) {
      const ha = await a.acquire();
      (await dd.mutex(`x${i}`).acquire()).release();
      ha.release();
    }
    assert.deepEqual({ buffered: dd.stats.bufferedEvents, live: dd.stats.liveRecords }, { buffered: 0, live: 0 });
  });
});
