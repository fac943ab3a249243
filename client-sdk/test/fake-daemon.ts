// A tiny fake daemon for the SDK's tests: a real WebSocket server on 127.0.0.1:0 that answers
// hello with welcome, records (and schema-checks) every client frame, and can send any frame.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach } from 'node:test';
import type { AddressInfo } from 'node:net';
import { ClientFrame, PROTOCOL_VERSION, type ClientEvent, type DeadlockReport } from '@deadlockd/proto';
import { WebSocketServer, type WebSocket } from 'ws';
import { connect, type Client, type ConnectOptions } from '../src/index.js';

export interface Recorded {
  /** which connection (0-based, in accept order) */
  conn: number;
  /** as parsed by the protocol schema (which drops unknown keys) */
  frame: ClientFrame;
  /** the text exactly as the SDK sent it */
  raw: string;
}

export interface FakeDaemonOptions {
  maxEventsPerFrame?: number;
  maxFrameBytes?: number;
  /** announce snapshots in `more` parts up to this many events (absent: an older daemon) */
  maxSnapshotEvents?: number;
  /** the daemon's clock in welcome.serverTime (absent: an older daemon that does not say it) */
  serverTime?: () => number;
  /** do not answer hello (to test connect timeouts) */
  silent?: boolean;
  port?: number;
}

/**
 * Failsafe for every wait in the SDK tests; not a speed assertion. Generous for a machine ten
 * times slower than an idle laptop: each wait ends as soon as its condition holds.
 */
const WAIT_MS = 30_000;

/** The task barrier() runs as; its events are left out of events() and facts(). */
const BARRIER_TASK = '__barrier__';

export class FakeDaemon {
  readonly frames: Recorded[] = [];
  /** frames that did not match the protocol schema (should stay empty) */
  readonly invalid: unknown[] = [];
  readonly sockets: WebSocket[] = [];
  private barriers = 0;
  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
    private readonly opts: FakeDaemonOptions,
  ) {
    wss.on('connection', (ws) => this.accept(ws));
  }

  static async start(opts: FakeDaemonOptions = {}): Promise<FakeDaemon> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: opts.port ?? 0, path: '/v1/stream' });
    await once(wss, 'listening');
    return new FakeDaemon(wss, (wss.address() as AddressInfo).port, opts);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/stream`;
  }

  private accept(ws: WebSocket): void {
    const conn = this.sockets.length;
    this.sockets.push(ws);
    ws.on('message', (data) => {
      const text = data.toString();
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        this.invalid.push(text);
        return;
      }
      const parsed = ClientFrame.safeParse(raw);
      if (!parsed.success) {
        this.invalid.push(raw);
        return;
      }
      this.frames.push({ conn, frame: parsed.data, raw: text });
      if (parsed.data.type === 'hello' && !this.opts.silent) {
        ws.send(
          JSON.stringify({
            type: 'welcome',
            protocol: PROTOCOL_VERSION,
            session: `s${conn}`,
            namespace: 'default',
            limits: {
              maxFrameBytes: this.opts.maxFrameBytes ?? 1 << 20,
              maxEventsPerFrame: this.opts.maxEventsPerFrame ?? 1000,
              ...(this.opts.maxSnapshotEvents !== undefined ? { maxSnapshotEvents: this.opts.maxSnapshotEvents } : {}),
            },
            resumed: false,
            ...(this.opts.serverTime ? { serverTime: this.opts.serverTime() } : {}),
            resumeSecret: `secret-of-s${conn}`,
          }),
        );
      }
    });
  }

  /** every frame of a type, in arrival order */
  ofType<K extends ClientFrame['type']>(type: K): Extract<ClientFrame, { type: K }>[] {
    return this.frames.map((r) => r.frame).filter((f): f is Extract<ClientFrame, { type: K }> => f.type === type);
  }

  /** the events of every `events` frame, flattened in order (without those of barrier()) */
  events(): ClientEvent[] {
    const all = this.ofType('events').flatMap((f) => f.events);
    const barrierOwners = new Set(all.flatMap((e) => (e.type === 'owner' && e.name === BARRIER_TASK ? [e.owner] : [])));
    return all.filter((e) => {
      if ('owner' in e && typeof e.owner === 'string' && barrierOwners.has(e.owner)) return false;
      return !('resource' in e && typeof e.resource === 'string' && e.resource.startsWith(BARRIER_TASK));
    });
  }

  /**
   * Resolves once every event `dd` queued before this call has reached this daemon: a task
   * holds a fresh mutex until its hold arrives (the SDK sends in order). For "nothing was sent"
   * assertions, instead of sleeping. Needs a client that reports holds soon (small reportAfterMs).
   */
  async barrier(dd: Client): Promise<void> {
    const name = `${BARRIER_TASK}${++this.barriers}`;
    const arrived = () => this.ofType('events').some((f) => f.events.some((e) => e.type === 'hold' && e.resource === name));
    await dd.task(BARRIER_TASK, async () => {
      const h = await dd.mutex(name).acquire();
      try {
        await this.waitFor(arrived, `the barrier hold ${name}`);
      } finally {
        h.release();
      }
    });
  }

  /** events without owner/resource declarations and lock-order facts, for compact assertions */
  facts(): ClientEvent[] {
    return this.events().filter((e) => e.type !== 'owner' && e.type !== 'resource' && e.type !== 'order');
  }

  /** the lock-order facts (`order` events) in arrival order */
  orders(): Extract<ClientEvent, { type: 'order' }>[] {
    return this.events().filter((e): e is Extract<ClientEvent, { type: 'order' }> => e.type === 'order');
  }

  /** Polls `pred` (failsafe WAIT_MS, not a speed assertion). The one polling helper of the SDK tests. */
  waitFor(pred: () => boolean, what = 'condition', timeoutMs = WAIT_MS): Promise<void> {
    return waitUntil(pred, what, timeoutMs);
  }

  /** send a frame on the latest connection */
  send(frame: object): void {
    const ws = this.sockets[this.sockets.length - 1];
    if (!ws) throw new Error('no connection');
    ws.send(JSON.stringify(frame));
  }

  /** drop every open connection abruptly */
  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `pred` every 5 ms until it holds (failsafe `timeoutMs`, not a speed assertion). */
export async function waitUntil(pred: () => boolean, what = 'condition', timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function quietLogger(): { warn(msg: string): void; info(msg: string): void; warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warn: (m: string) => void warnings.push(m), info: (m: string) => void infos.push(m), warnings, infos };
}

export function report(id: string, text = 'cycle: a -> b -> a'): DeadlockReport {
  return {
    id,
    namespace: 'default',
    detectedAt: Date.now(),
    members: [],
    edges: [],
    victim: null,
    resolution: 'aborting',
    text,
  };
}

/** a port nothing listens on (bound then closed) */
export async function deadPort(): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  await new Promise<void>((r) => wss.close(() => r()));
  return port;
}

/** connect() options that report every hold and wait at once, on setImmediate (the wire tests pin exact events) */
export const IMMEDIATE = { reportAfterMs: 0, flushIntervalMs: 0 } as const;

/**
 * One SDK client against a fresh FakeDaemon per test. `setup()` starts both (the client with
 * `defaults`, then `opts`); after each test both are closed and every frame the SDK sent must
 * have matched the protocol schema.
 */
export function sdkFixture(defaults: Partial<ConnectOptions> & { service: string }) {
  let daemon: FakeDaemon | undefined;
  let dd: Client | undefined;
  afterEach(async () => {
    await dd?.close();
    await daemon?.close();
    if (daemon) assert.deepEqual(daemon.invalid, [], 'every frame the SDK sent matches the protocol');
    dd = undefined;
    daemon = undefined;
  });
  return {
    async setup(opts: Partial<ConnectOptions> = {}, daemonOpts: FakeDaemonOptions = {}) {
      daemon = await FakeDaemon.start(daemonOpts);
      const logger = quietLogger();
      dd = await connect({ url: daemon.url, logger, ...defaults, ...opts });
      return { daemon, dd, logger };
    },
  };
}
