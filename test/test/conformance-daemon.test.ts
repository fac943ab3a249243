// The daemon side of the protocol conformance suite (proto/conformance/daemon.json): each vector's
// client frames against a real daemon process, and its answer — welcome, error code with fatal,
// nothing (accepted) — checked frame by frame, then that the connection is open (a barrier round
// trip) or closed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { cleanup, startDaemon, type Daemon } from '../src/harness.js';
import { loadSuite, matches } from '../src/conformance.js';
import { within } from '../src/timing.js';

const suite = loadSuite('daemon');
const STEP_MS = 30_000;

interface Conn {
  frames: Array<Record<string, unknown>>;
  closed: Promise<number>;
  send(text: string): void;
  /** resolves with the next frame satisfying pred (queued or future) */
  next(pred: (f: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  close(): void;
}

async function open(url: string): Promise<Conn> {
  const ws = new WebSocket(url);
  const frames: Array<Record<string, unknown>> = [];
  let wake: (() => void) | null = null;
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()));
    wake?.();
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => { resolve(code); wake?.(); }));
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  return {
    frames,
    closed,
    send: (text) => ws.send(text),
    next: (pred, what) => within(STEP_MS, what, (async () => {
      for (;;) {
        const f = frames.find(pred);
        if (f) return f;
        if (ws.readyState === WebSocket.CLOSED) throw new Error(`closed before ${what}; got ${JSON.stringify(frames)}`);
        await new Promise<void>((r) => (wake = r));
      }
    })()),
    close: () => ws.terminate(),
  };
}

describe('protocol conformance: daemon side', () => {
  let daemon: Daemon;
  before(async () => {
    daemon = await startDaemon(suite.daemonArgs);
  });
  after(() => cleanup(daemon));

  for (const v of suite.vectors) {
    test(v.name, { timeout: 120_000 }, async () => {
      const c = await open(daemon.url);
      try {
        if (v.helloFirst) {
          c.send(JSON.stringify(suite.hello));
          await c.next((f) => f.type === 'welcome', 'the welcome');
          c.frames.shift();
        }
        for (const s of v.send) c.send('raw' in s ? s.raw : JSON.stringify(s.frame));
        const barrierSeq = (suite.barrier as { seq: number }).seq;
        const isBarrier = (f: Record<string, unknown>) => f.type === 'error' && (f.ref as { seq?: number } | undefined)?.seq === barrierSeq;
        if (v.then === 'open') {
          c.send(JSON.stringify(suite.barrier));
          await c.next(isBarrier, 'the barrier round trip (connection still open)');
        } else {
          const code = await within(STEP_MS, 'the daemon to close the connection', c.closed);
          assert.ok(code >= 1000, `closed with ${code}`);
        }
        const got = c.frames.filter((f) => !isBarrier(f));
        assert.equal(got.length, v.expect.length, `frames: ${JSON.stringify(got)}`);
        v.expect.forEach((e, i) => assert.ok(matches(got[i], e), `frame ${i}: ${JSON.stringify(got[i])} does not match ${JSON.stringify(e)}`));
      } finally {
        c.close();
      }
    });
  }
});
