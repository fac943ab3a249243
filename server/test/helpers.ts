// Test helpers: a real daemon on 127.0.0.1:0 and real `ws` clients that
// queue the frames they receive.
import { Writable } from 'node:stream';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, type ServerFrame, type WelcomeFrame } from '@deadlockd/proto';
import { resolveConfig, startDaemon, type Config, type RunningDaemon } from '../src/index.js';

/**
 * Failsafe so a broken test fails instead of hanging CI; not a speed assertion. Generous so a
 * machine ten times slower than a developer's laptop (a loaded 2-core CI box) still passes:
 * every wait ends as soon as its condition holds, only a real failure waits this long.
 */
export const WAIT_MS = 30_000;

export interface TestDaemon extends RunningDaemon {
  wsUrl: string;
  logs: Record<string, unknown>[];
}

export async function startTestDaemon(overrides: Partial<Config> = {}): Promise<TestDaemon> {
  const logs: Record<string, unknown>[] = [];
  let partial = '';
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      partial += chunk.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  // confirm rounds are answered by test code in this process: a deadline a loaded machine can
  // always meet, unless a test is about the deadline itself and sets its own
  // no history file unless a test asks for one: every test daemon starts with an empty history
  const config = resolveConfig({ port: 0, host: '127.0.0.1', logLevel: 'info', sweepIntervalMs: 0, confirmTimeoutMs: 30_000, historyFile: ':memory:', ...overrides });
  const daemon = await startDaemon(config, { logStream });
  return { ...daemon, wsUrl: `${daemon.url.replace(/^http/, 'ws')}/v1/stream`, logs };
}

type Predicate = (f: ServerFrame) => boolean;

export class TestClient {
  readonly frames: ServerFrame[] = [];
  private waiters: { pred: Predicate; resolve: (f: ServerFrame) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('error', () => {}); // a refused/cut connection shows up as `closed`
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as ServerFrame;
      const i = this.waiters.findIndex((w) => w.pred(frame));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        w!.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    });
  }

  static async connect(url: string): Promise<TestClient> {
    const c = new TestClient(new WebSocket(url));
    await c.opened;
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame (queued or future) of this type that matches `pred`; queued non-matching frames stay queued. */
  next<T extends ServerFrame['type']>(type: T, pred: (f: Extract<ServerFrame, { type: T }>) => boolean = () => true): Promise<Extract<ServerFrame, { type: T }>> {
    const match = (f: ServerFrame): boolean => f.type === type && pred(f as Extract<ServerFrame, { type: T }>);
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0] as Extract<ServerFrame, { type: T }>);
    return new Promise((resolve, reject) => {
      const waiter = { pred: match, resolve: (f: ServerFrame) => { clearTimeout(timer); resolve(f as Extract<ServerFrame, { type: T }>); } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no '${type}' frame arrived; queued: ${JSON.stringify(this.frames.map((f) => f.type))}`));
      }, WAIT_MS);
      this.waiters.push(waiter);
    });
  }

  /** Frames of a type received and not yet taken by next(). */
  queued(type: ServerFrame['type']): ServerFrame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /**
   * Round trip that proves every frame sent before it was processed: releasing
   * a resource nobody holds answers NOT_HELD, in order with everything else.
   */
  async barrier(): Promise<void> {
    const seq = 1_000_000 + Math.floor(Math.random() * 1_000_000);
    this.send({ type: 'events', seq, events: [{ type: 'release', owner: '__barrier__', resource: '__barrier__' }] });
    await this.next('error', (e) => e.ref?.seq === seq);
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const failsafe = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('connection did not close')), WAIT_MS);
    });
    try {
      return await Promise.race([this.closed, failsafe]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.waitClosed().catch(() => this.ws.terminate());
  }
}

export interface HelloOptions {
  service?: string;
  instance?: string;
  resume?: string;
  /** the `resumeSecret` of the welcome being resumed */
  resumeSecret?: string;
  token?: string;
}

/** connect + hello + wait for welcome */
export async function connectClient(url: string, hello: HelloOptions = {}): Promise<{ client: TestClient; welcome: WelcomeFrame }> {
  const client = await TestClient.connect(url);
  client.send({
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    service: hello.service ?? 'test-svc',
    instance: hello.instance ?? 'test-1',
    ...(hello.resume ? { resume: hello.resume } : {}),
    ...(hello.resumeSecret ? { resumeSecret: hello.resumeSecret } : {}),
    ...(hello.token !== undefined ? { token: hello.token } : {}),
  });
  const welcome = await client.next('welcome');
  return { client, welcome };
}

/**
 * Polls until `cond` holds (sync or async), every 10 ms, up to WAIT_MS (failsafe deadline, not
 * a speed assertion). The one polling helper of the server tests.
 */
export async function eventually(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---- event builders for raw frames ------------------------------------------

export const ev = {
  owner: (owner: string, extra: Record<string, unknown> = {}) => ({ type: 'owner', owner, ...extra }),
  mutex: (resource: string, scope: 'local' | 'global' = 'local') => ({ type: 'resource', resource, kind: 'mutex', scope }),
  hold: (owner: string, resource: string) => ({ type: 'hold', owner, resource }),
  wait: (waitId: string, owner: string, resource: string) => ({ type: 'wait', waitId, owner, resource }),
  cancel: (waitId: string) => ({ type: 'cancel', waitId }),
  release: (owner: string, resource: string) => ({ type: 'release', owner, resource }),
};
