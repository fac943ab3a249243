// The daemon is not the source of truth — the clients are. (1) A deadlock forms across two SDK
// clients while the daemon is dead (kill -9); a new daemon starts on the same port; the SDKs
// reconnect, each sends a snapshot of its whole state, and the daemon detects and resolves the
// deadlock: one DeadlockError, both transfers complete. (2) Fail-open: with no daemon at all the
// primitives keep working, the SDK warns once, and nothing accumulates.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { connect, type Client } from '@deadlockd/client';
import { cleanup, startDaemon, type Daemon } from '../src/harness.js';
import { takeDistributed } from '../src/distributed-lock.js';
import { LockClient, startLockServer, type LockServer } from '../src/lock-server.js';
import { DeadlockTally, retriedTask, signal } from '../src/retried-task.js';
import { CONNECT_TIMEOUT_MS, sleep, STEP_MS, TEST_TIMEOUT, until, within } from '../src/timing.js';
import { closeSdk } from '../src/watched-session.js';

const T = TEST_TIMEOUT;
const FAST_RECONNECT = { minDelayMs: 20, maxDelayMs: 100 };

describe('reconnect and resync: a deadlock that formed while the daemon was down', () => {
  let daemon: Daemon;
  let lockServer: LockServer;
  const clients: Client[] = [];
  const lockClients: LockClient[] = [];
  before(async () => {
    [daemon, lockServer] = await Promise.all([startDaemon(), startLockServer()]);
  });
  after(async () => {
    await Promise.all(clients.map(closeSdk));
    await Promise.all(lockClients.map((l) => l.close().catch(() => {})));
    await lockServer?.close();
    await cleanup(daemon);
  });

  test('kill -9 the daemon, deadlock, restart on the same port: snapshots rebuild it, one abort resolves it', T, async (t) => {
    const port = daemon.port;
    const warnings = new Map<string, string[]>();
    const sdk = async (service: string) => {
      const w: string[] = [];
      warnings.set(service, w);
      const dd = await connect({ url: daemon.url, service, connectTimeoutMs: CONNECT_TIMEOUT_MS, reconnect: FAST_RECONNECT, logger: { warn: (m: string) => w.push(m) } });
      clients.push(dd);
      assert.ok(dd.connected, `${service} connected`);
      const locks = await LockClient.connect(lockServer.port);
      lockClients.push(locks);
      return { dd, take: (name: string) => takeDistributed(dd, locks, name) };
    };
    const a = await sdk('svc-a');
    const b = await sdk('svc-b');

    await daemon.kill9();
    await until(STEP_MS, 'both SDKs to notice the daemon is gone', async () => (a.dd.connected || b.dd.connected ? undefined : true));

    // the deadlock forms while nobody watches: a holds x and waits for y, b holds y and waits for x
    const tally = new DeadlockTally();
    const bothHold = { a: signal(), b: signal() };
    const transfer = (side: typeof a, me: 'a' | 'b', first: string, second: string) =>
      retriedTask(side.dd, tally, `${me}: ${first} then ${second}`, async (attempt) => {
        const r1 = await side.take(first);
        try {
          if (attempt === 0) {
            bothHold[me].fire();
            await Promise.all([bothHold.a.promise, bothHold.b.promise]);
          }
          const r2 = await side.take(second);
          r2();
        } finally {
          r1();
        }
      });
    const done = Promise.all([transfer(a, 'a', 'acct:x', 'acct:y'), transfer(b, 'b', 'acct:y', 'acct:x')]);
    // really stuck: each side holds its first lock and waits for its second (nothing can resolve
    // this without a daemon)
    await until(STEP_MS, 'both sides to hold one lock and wait for the other', async () =>
      a.dd.stats.liveRecords === 2 && b.dd.stats.liveRecords === 2 ? true : undefined);
    assert.equal(tally.count, 0);

    // a new daemon on the same port; the SDKs find it and resync. Its tiny frame limit makes each
    // snapshot go in several parts, which the daemon must apply together.
    daemon = await startDaemon(['--port', String(port), '--max-events-per-frame', '2']);
    await within(STEP_MS, 'the snapshots to rebuild the deadlock and the retry to complete both transfers', done, () => `${tally.describe()}\n${daemon.logs()}`);
    const line = `reconnect/resync: DeadlockErrors after the restart: ${tally.count}`;
    t.diagnostic(line);
    console.log(line);
    assert.equal(tally.count, 1, tally.describe());
    assert.ok(a.dd.connected && b.dd.connected);
    const applied = await daemon.waitForLog(/"parts":(\d+).*snapshot applied/);
    assert.ok(Number(applied[1]) > 1, `a snapshot in parts: ${applied[0]}`);
    const report = tally.errors[0]!.report;
    assert.deepEqual(report.members.map((m) => m.service).sort(), ['svc-a', 'svc-b'], report.text);
    // one warning per SDK for the outage, not one per reconnect attempt
    for (const [service, w] of warnings) assert.equal(w.length, 1, `${service}: ${w.join('\n')}`);
  });
});

describe('fail-open: no daemon at all', () => {
  test('primitives keep working without detection, one warning, nothing accumulates', T, async () => {
    const warnings: string[] = [];
    const dd = await connect({
      url: 'ws://127.0.0.1:1/v1/stream', // nothing listens on port 1
      service: 'alone',
      connectTimeoutMs: 200,
      reconnect: { minDelayMs: 5, maxDelayMs: 20 }, // many attempts in the background
      logger: { warn: (m: string) => warnings.push(m) },
    });
    try {
      assert.equal(dd.connected, false);
      const gc = exposeGc();
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const m = dd.mutex('m');
      const pool = dd.semaphore('pool', 2);
      const cfg = dd.rwlock('cfg');
      for (let round = 0; round < 20; round++) {
        // uncontended, nested and contended use, all in tasks
        for (let i = 0; i < 2_000; i++) {
          const h = await m.acquire();
          const c = await pool.acquire();
          const c2 = await pool.acquire(); // a nested checkout: warned once, not buffered
          c2.release();
          c.release();
          h.release();
        }
        let order = '';
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            dd.task(`t${i}`, async () => {
              const r = await cfg.acquire(i % 5 === 0 ? 'exclusive' : 'shared');
              const h = await m.acquire();
              await sleep(0);
              order += '.';
              h.release();
              r.release();
            }),
          ),
        );
        assert.equal(order.length, 50);
      }
      await sleep(100); // an observation window (not a synchronisation): more reconnect attempts fail
      gc();
      const grown = process.memoryUsage().heapUsed - heapBefore;
      const stats = dd.stats;
      assert.deepEqual({ buffered: stats.bufferedEvents, live: stats.liveRecords, sent: stats.eventsSent }, { buffered: 0, live: 0, sent: 0 });
      assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1024 / 1024).toFixed(1)} MB over ~200k lock operations`);
      const outage = warnings.filter((w) => w.includes('not reachable'));
      assert.equal(outage.length, 1, warnings.join('\n'));
      assert.equal(warnings.filter((w) => w.includes('nested checkout')).length, 1, warnings.join('\n'));
      assert.equal(warnings.length, 2, warnings.join('\n'));
    } finally {
      await dd.close();
    }
  });
});

/** gc() without starting node with --expose-gc (the heap check needs a collection to mean anything). */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
