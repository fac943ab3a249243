// Fail-open without a daemon, reconnect with a snapshot, the bounded buffer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, type Held } from '../src/index.js';
import { IMMEDIATE, deadPort, FakeDaemon, quietLogger, sleep, waitUntil } from './fake-daemon.js';

describe('without a daemon', () => {
  it('connect resolves after connectTimeoutMs with one warning; primitives keep working', async () => {
    const port = await deadPort();
    const logger = quietLogger();
    const t0 = Date.now();
    const dd = await connect({
      ...IMMEDIATE, url: `ws://127.0.0.1:${port}/v1/stream`,
      service: 'alone',
      connectTimeoutMs: 150,
      reconnect: { minDelayMs: 10, maxDelayMs: 20 },
      logger,
    });
    try {
      assert.ok(Date.now() - t0 >= 140, 'waited for the connect timeout');
      assert.equal(dd.connected, false);
      const m = dd.mutex('m');
      const h = await m.acquire();
      const waiting = dd.task('t', async () => (await m.acquire({ timeoutMs: 1000 })).release());
      h.release();
      await waiting;
      await sleep(100); // an observation window (not a synchronisation): reconnect attempts fail meanwhile
      assert.equal(logger.warnings.length, 1, logger.warnings.join('\n'));
      assert.match(logger.warnings[0] ?? '', /not reachable/);
    } finally {
      await dd.close();
    }
  });

  it('a daemon that never welcomes is treated like none', async () => {
    const daemon = await FakeDaemon.start({ silent: true });
    const logger = quietLogger();
    const dd = await connect({ ...IMMEDIATE, url: daemon.url, service: 'silent', connectTimeoutMs: 100, reconnect: false, logger });
    try {
      assert.equal(dd.connected, false);
      assert.equal(logger.warnings.length, 1);
      (await dd.semaphore('s', 1).acquire()).release();
    } finally {
      await dd.close();
      await daemon.close();
    }
  });
});

describe('refused by the daemon', () => {
  it('an error before the welcome is named in the single outage warning', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    let attempts = 0;
    wss.on('connection', (ws) => {
      attempts++;
      ws.once('message', () => {
        ws.send(JSON.stringify({ type: 'error', code: 'UNAUTHORIZED', message: 'missing or invalid token', fatal: true }));
        ws.close(1008, 'unauthorized');
      });
    });
    const port = (wss.address() as { port: number }).port;
    const logger = quietLogger();
    const dd = await connect({
      ...IMMEDIATE, url: `ws://127.0.0.1:${port}/v1/stream`, service: 'no-token', connectTimeoutMs: 200,
      reconnect: { minDelayMs: 5, maxDelayMs: 10 }, logger,
    });
    try {
      await waitUntil(() => attempts >= 3, 'three refused attempts: it keeps retrying in the background');
      assert.equal(dd.connected, false);
      assert.equal(logger.warnings.length, 1);
      assert.match(logger.warnings[0] ?? '', /UNAUTHORIZED/);
    } finally {
      await dd.close();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});

describe('reconnect', () => {
  it('after a drop, reconnects and sends one snapshot with the current holds and waits', async () => {
    const daemon = await FakeDaemon.start();
    const logger = quietLogger();
    const dd = await connect({
      ...IMMEDIATE, url: daemon.url, service: 'resync', reportAfterMs: 10_000, // nothing is reported on its own…
      reconnect: { minDelayMs: 10, maxDelayMs: 50 }, logger,
    });
    try {
      const m = dd.mutex('m');
      const s = dd.semaphore('pool', 2);
      const hm = await m.acquire();
      const hs = await s.acquire({ units: 2 });
      let stop!: () => void;
      const gate = new Promise<void>((r) => (stop = r));
      const waiter = dd.task('waiter', { priority: 3 }, async () => {
        const h = await m.acquire();
        h.release();
      });
      const holder = dd.task('rw', async () => {
        const r = await dd.rwlock('cfg').acquire('shared');
        await gate;
        r.release();
      });
      // both tasks are where they stay: m and pool held by main, the waiter queued, cfg held
      await waitUntil(() => dd.stats.liveRecords === 4, 'three holds and a wait in the SDK');
      await daemon.waitFor(() => daemon.orders().length === 1, 'the lock-order fact');
      // only lock-order facts (main took pool while holding m) leave at once, whatever reportAfterMs says
      assert.deepEqual(daemon.facts(), [], '…so the daemon knows no hold or wait yet');
      assert.deepEqual(daemon.orders().map((o) => [o.held, o.acquired]), [['m', 'pool']]);
      daemon.dropAll();
      await daemon.waitFor(() => daemon.ofType('snapshot').length === 1, 'snapshot');
      assert.equal(dd.connected, true);
      const hellos = daemon.ofType('hello');
      assert.equal(hellos[1]?.resume, 's0', 'resumes the earlier session');
      assert.equal(hellos[1]?.resumeSecret, 'secret-of-s0', "with the secret that session's welcome gave");
      assert.equal(hellos[0]?.resumeSecret, undefined, 'a first hello has no secret to show');
      const snap = daemon.ofType('snapshot')[0]!;
      const facts = snap.events.filter((e) => e.type !== 'owner' && e.type !== 'resource');
      const owners = new Map(snap.events.flatMap((e) => (e.type === 'owner' ? [[e.owner, e] as const] : [])));
      assert.deepEqual(
        facts.map((e) => [e.type, owners.get((e as { owner: string }).owner)?.name, (e as { resource?: string }).resource]),
        [
          ['hold', 'main', 'm'],
          ['hold', 'main', 'pool'],
          ['wait', 'waiter', 'm'],
          ['hold', 'rw', 'cfg'],
        ],
      );
      assert.equal([...owners.values()].find((o) => o.name === 'waiter')?.priority, 3);
      const decls = snap.events.filter((e) => e.type === 'resource').map((e) => (e as { resource: string }).resource);
      assert.deepEqual(decls.sort(), ['cfg', 'm', 'pool']);
      // each declaration precedes its first use
      for (const [i, e] of snap.events.entries()) {
        if (e.type === 'hold' || e.type === 'wait') {
          const declAt = snap.events.findIndex((d) => d.type === 'resource' && d.resource === e.resource);
          const ownerAt = snap.events.findIndex((d) => d.type === 'owner' && d.owner === e.owner);
          assert.ok(declAt < i && ownerAt < i);
        }
      }
      // after the snapshot everything is known: a release is reported at once
      hm.release();
      await waiter;
      await daemon.waitFor(() => daemon.facts().length >= 2, 'release + grant');
      const after = daemon.frames.filter((r) => r.conn === 1 && r.frame.type === 'events').flatMap((r) => (r.frame.type === 'events' ? r.frame.events : []));
      assert.deepEqual(after.slice(0, 2).map((e) => e.type), ['release', 'grant']);
      hs.release();
      stop();
      await holder;
      assert.equal(logger.warnings.length, 1, 'one warning for the outage');
    } finally {
      await dd.close();
      await daemon.close();
    }
  });

  it('state taken while the daemon was down reaches it in the snapshot once it is up', async () => {
    const port = await deadPort();
    const logger = quietLogger();
    const dd = await connect({
      ...IMMEDIATE, url: `ws://127.0.0.1:${port}/v1/stream`, service: 'late-daemon', connectTimeoutMs: 50,
      reconnect: { minDelayMs: 10, maxDelayMs: 30 }, logger,
    });
    let daemon: FakeDaemon | undefined;
    try {
      assert.equal(dd.connected, false);
      const h: Held = await dd.mutex('early').acquire();
      (await dd.mutex('gone').acquire()).release();
      daemon = await FakeDaemon.start({ port });
      const d = daemon;
      await d.waitFor(() => d.ofType('snapshot').length === 1, 'snapshot');
      const snap = d.ofType('snapshot')[0]!;
      assert.deepEqual(
        snap.events.filter((e) => e.type === 'hold').map((e) => (e as { resource: string }).resource),
        ['early'],
      );
      h.release();
      await d.waitFor(() => d.facts().length === 1, 'release');
      assert.deepEqual(d.facts()[0], { type: 'release', owner: 'main', resource: 'early' });
    } finally {
      await dd.close();
      await daemon?.close();
    }
  });

  it('close() ends the connection and stops reconnecting', async () => {
    const daemon = await FakeDaemon.start();
    const dd = await connect({ ...IMMEDIATE, url: daemon.url, service: 'closing', logger: quietLogger(), reconnect: { minDelayMs: 5, maxDelayMs: 5 } });
    assert.equal(dd.connected, true);
    await dd.close();
    assert.equal(dd.connected, false);
    await sleep(50);
    assert.equal(daemon.ofType('hello').length, 1);
    (await dd.mutex('after-close').acquire()).release();
    await daemon.close();
  });
});

describe('bounded buffer', () => {
  it('over maxBufferedEvents the buffer is dropped and a snapshot resyncs', async () => {
    const daemon = await FakeDaemon.start();
    const logger = quietLogger();
    const dd = await connect({ ...IMMEDIATE, url: daemon.url, service: 'bounded', maxBufferedEvents: 5, logger });
    try {
      const keep = await dd.mutex('keep').acquire();
      const many: Held[] = [];
      for (let i = 0; i < 10; i++) {
        many.push(await dd.mutex(`hot${i}`).acquire());
        // let each acquire's lock-order fact go out before the next (they count against the bound too)
        await new Promise((r) => setImmediate(r));
      }
      await daemon.waitFor(() => daemon.facts().length === 11, 'eleven holds');
      // ten releases in one synchronous burst: more than 5 buffered events
      for (const h of many) h.release();
      await daemon.waitFor(() => daemon.ofType('snapshot').length === 1, 'resync snapshot');
      assert.equal(logger.warnings.length, 1);
      assert.match(logger.warnings[0] ?? '', /buffer/);
      const snap = daemon.ofType('snapshot')[0]!;
      assert.deepEqual(
        snap.events.filter((e) => e.type === 'hold' || e.type === 'wait').map((e) => [e.type, (e as { resource: string }).resource]),
        [['hold', 'keep']],
      );
      assert.equal(daemon.facts().filter((e) => e.type === 'release').length, 0, 'the dropped releases were never sent');
      keep.release();
      await daemon.waitFor(() => daemon.facts().length === 12, 'release after the resync');
      assert.deepEqual(daemon.facts()[11], { type: 'release', owner: 'main', resource: 'keep' });
    } finally {
      await dd.close();
      await daemon.close();
    }
  });
});
