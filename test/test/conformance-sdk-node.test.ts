// The SDK side of the protocol conformance suite (proto/conformance/sdk.json) for the Node SDK:
// a fake daemon (a real WebSocket server) plays each vector's daemon frames to a real SDK client
// and checks what the SDK answers (cancel before abort_result, expired aborts refused, confirm
// rounds, unknown frames ignored, welcome limits honoured) and what the application sees.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, type WebSocket } from 'ws';
import { connect, DeadlockError, type Client } from '@deadlockd/client';
import { flatten, loadSuite, matches, matchInOrder, resolve, type FakeLink } from '../src/conformance.js';
import { within } from '../src/timing.js';

const suite = loadSuite('sdk');
const STEP_MS = 30_000;
const quiet = { warn: () => {}, info: () => {}, debug: () => {} };

function fakeDaemon(): Promise<{ url: string; link: Promise<FakeLink>; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const link = new Promise<FakeLink>((resolveLink) => {
    wss.once('connection', (ws: WebSocket) => {
      const frames: Array<Record<string, unknown>> = [];
      let wake: (() => void) | null = null;
      ws.on('message', (d) => {
        frames.push(JSON.parse(d.toString()));
        wake?.();
      });
      resolveLink({
        frames,
        send: (f) => ws.send(JSON.stringify(f)),
        next: (pred, what) => within(STEP_MS, what, (async () => {
          for (;;) {
            const f = frames.find(pred);
            if (f) return f;
            await new Promise<void>((r) => (wake = r));
          }
        })(), () => JSON.stringify(frames)),
      });
    });
  });
  return new Promise((ok) => wss.once('listening', () => {
    const addr = wss.address() as { port: number };
    ok({
      url: `ws://127.0.0.1:${addr.port}/v1/stream`,
      link,
      close: () => new Promise<void>((done) => { for (const c of wss.clients) c.terminate(); wss.close(() => done()); }),
    });
  }));
}

describe('protocol conformance: SDK side (Node SDK)', () => {
  const open: Array<() => Promise<void>> = [];
  after(async () => { for (const c of open) await c(); });

  for (const v of suite.vectors) {
    test(v.name, { timeout: 120_000 }, async () => {
      const fake = await fakeDaemon();
      open.push(fake.close);
      const deadlocks: string[] = [];
      const hazards: string[] = [];
      const now = Date.now();
      const connecting = connect({ url: fake.url, service: 'conformance', instance: 'conformance-1', reconnect: false, reportAfterMs: 0, logger: quiet });
      const link = await fake.link;
      const hello = await link.next((f) => f.type === 'hello', 'the hello');
      assert.ok(matches(hello, suite.hello), JSON.stringify(hello));
      for (const [field, type] of Object.entries(suite.helloTypes))
        assert.ok(type === 'integer' ? Number.isInteger(hello[field]) : typeof hello[field] === type, `hello.${field} is a ${type}: ${JSON.stringify(hello)}`);
      link.send(resolve(v.welcome, {}, now));
      const dd: Client = await connecting;
      open.push(() => dd.close());
      dd.on('deadlock', (r) => deadlocks.push(r.id));
      dd.on('hazard', (h) => hazards.push(h.id));

      const vars: Record<string, string> = {};
      let outcome: Promise<unknown> | undefined;
      let settled = false;
      if (v.setup === 'blocked-wait') {
        const m = dd.mutex('conf-lock');
        let release!: () => void;
        const holding = new Promise<void>((r) => (release = r));
        const taken = new Promise<void>((took) => {
          void dd.task('conf-holder', async () => {
            const held = await m.acquire();
            took();
            await holding;
            held.release();
          });
        });
        await taken;
        open.push(async () => release());
        outcome = dd.task('conf-waiter', () => m.acquire()).then(
          (h) => { settled = true; h.release(); return 'granted'; },
          (e: unknown) => { settled = true; return e; },
        );
        // the lock by name, or by the handle its declaration gave it (a daemon that takes handles)
        const handleOf = (): unknown =>
          (flatten(link.frames).find((x) => matches(x, { event: { type: 'resource', resource: 'conf-lock' } }))?.event as Record<string, unknown> | undefined)?.handle;
        const isWait = (x: Record<string, unknown>) => {
          if (matches(x, { event: { type: 'wait', resource: 'conf-lock' } })) return true;
          const h = handleOf();
          return h !== undefined && matches(x, { event: { type: 'wait', resource: h } });
        };
        await link.next(() => flatten(link.frames).some(isWait), 'the wait on conf-lock');
        const ev = flatten(link.frames).find(isWait)!.event as Record<string, string>;
        vars.waitId = ev.waitId!;
        vars.owner = ev.owner!;
      }
      if (v.setupExpect !== undefined)
        assert.ok(matchInOrder(flatten(link.frames), v.setupExpect) >= 0, `after the setup, in order: ${JSON.stringify(v.setupExpect)}; got ${JSON.stringify(flatten(link.frames))}`);
      const mark = link.frames.length;
      for (const f of v.send) link.send(resolve(f, vars, now));
      const expected = resolve(v.expect, vars, now);
      await link.next(() => matchInOrder(flatten(link.frames.slice(mark)), expected) >= 0,
        `in order: ${JSON.stringify(expected)}`);

      if (v.after === 'deadlock-error') {
        const err = await within(STEP_MS, 'the blocked acquire to fail', outcome!);
        assert.ok(err instanceof DeadlockError, String(err));
        assert.equal(err.deadlockId, v.deadlockId);
      } else if (v.after === 'still-waiting') {
        assert.equal(settled, false, 'the blocked acquire is still pending');
      }
      if (v.eventsPerFrameAtMost !== undefined) {
        for (const f of link.frames) {
          if (f.type === 'events' || f.type === 'snapshot') assert.ok((f.events as unknown[]).length <= v.eventsPerFrameAtMost, JSON.stringify(f));
        }
      }
      if (v.callbacks?.deadlock) assert.deepEqual(deadlocks, v.callbacks.deadlock);
      if (v.callbacks?.hazard) assert.deepEqual(hazards, v.callbacks.hazard);
      assert.equal(link.frames.filter((f) => f.type === 'hello').length, 1, 'one connection: nothing made the SDK reconnect');
    });
  }
});
