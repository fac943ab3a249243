// The WebSocket link to the daemon: hello → welcome, frame I/O, reconnect with jittered backoff.
// It never throws at the application: when the daemon is unreachable it warns once per outage
// and keeps retrying in the background.
import { PROTOCOL_VERSION, ServerFrame, type WelcomeFrame } from '@deadlockd/proto';
import WebSocket from 'ws';
import type { Logger } from './logger.js';
import type { FrameSink } from './reporter.js';

export interface ConnectionOptions {
  url: string;
  service: string;
  instance: string;
  /** the machine and the process, sent in hello for reports (host '' is left out) */
  host: string;
  pid: number;
  token: string | undefined;
  connectTimeoutMs: number;
  reconnect: { minDelayMs: number; maxDelayMs: number } | false;
  logger: Logger;
}

export interface ConnectionHandlers {
  /** a connection was welcomed; `first` is true for the very first welcome of this client */
  welcome(frame: WelcomeFrame, first: boolean): void;
  /** any other daemon frame on the welcomed connection */
  frame(frame: ServerFrame): void;
  /**
   * Whether a frame of this type would be used at all. One that would not is dropped after
   * JSON.parse, before its schema check: a `deadlock` frame carries the whole report (zod took
   * ~0.1 ms for one on a process idle for a few ms), and it comes right behind the victim's
   * abort, often in the same read, so its check delayed the DeadlockError.
   */
  wants(type: ServerFrame['type']): boolean;
  /** the welcomed connection was lost */
  down(): void;
}

const CLOSE_WAIT_MS = 1000;
/**
 * Silent heartbeat periods (no ping, no frame from the daemon) after which the link is taken
 * for dead: a daemon whose machine vanished never closes the socket, and writes into it can
 * succeed for minutes, so without this detection would be silently off until TCP gives up.
 */
const SILENT_BEATS = 3;
/**
 * Each daemon frame's own schema, by its `type`: the same checks as the ServerFrame union, which
 * cost 3-4x more per frame (45-52 us against 12-16 us for an abort, zod 4); an unknown type still
 * goes to the union, for its error message.
 */
const SCHEMA_BY_TYPE: ReadonlyMap<unknown, (typeof ServerFrame.options)[number]> = new Map(ServerFrame.options.map((o) => [o.shape.type.value, o]));
/** setInterval takes at most 2^31 - 1 ms (more becomes 1 ms) */
const MAX_TIMER_MS = 2_147_483_647;

export class Connection implements FrameSink {
  maxEventsPerFrame = 1000;
  maxFrameBytes = 1024 * 1024;
  maxSnapshotEvents: number | undefined = undefined;
  private ws: WebSocket | null = null;
  private welcomed = false;
  private everWelcomed = false;
  private session: string | undefined;
  /** the latest welcome's secret: the daemon resumes `session` only for whoever shows it */
  private resumeSecret: string | undefined;
  private attempt = 0;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private welcomeTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  /** when the daemon was last heard from (a ping or any frame) on the current connection */
  private heardAt = 0;
  /** warned about the current outage already */
  private warned = false;
  private lastError: string | undefined;
  private firstWelcome: (() => void) | null = null;
  /** performance.now() when the current connection's hello was sent */
  private helloSentAt = 0;
  /** the daemon's clock in its welcome, and when our hello left (both for daemonClockAtMost) */
  private daemonClock: { serverTime: number; helloSentAt: number } | null = null;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly on: ConnectionHandlers,
  ) {}

  get isWelcomed(): boolean {
    return this.welcomed;
  }

  /**
   * An upper bound of the daemon's clock now, or undefined if the daemon did not
   * say its time. The welcome was stamped after our hello left, so at most the
   * time since the hello has passed on the daemon since its stamp.
   */
  daemonClockAtMost(): number | undefined {
    const c = this.daemonClock;
    return c === null ? undefined : c.serverTime + (performance.now() - c.helloSentAt);
  }

  /** Connect; resolves at the first welcome or after connectTimeoutMs, whichever comes first (fail-open). */
  start(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.firstWelcome = null;
        this.warnDown(`no welcome within ${this.opts.connectTimeoutMs} ms`);
        resolve();
      }, this.opts.connectTimeoutMs);
      this.firstWelcome = () => {
        clearTimeout(timer);
        this.firstWelcome = null;
        resolve();
      };
      this.open();
    });
  }

  sendText(text: string): void {
    const ws = this.ws;
    if (ws !== null && this.welcomed && ws.readyState === WebSocket.OPEN) ws.send(text);
  }

  bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.firstWelcome?.();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.welcomeTimer !== null) clearTimeout(this.welcomeTimer);
    this.stopWatchdog();
    const ws = this.ws;
    if (ws === null) return;
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        ws.terminate();
        resolve();
      }, CLOSE_WAIT_MS);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'client closing');
    });
  }

  private open(): void {
    if (this.closed) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.opts.url, { handshakeTimeout: this.opts.connectTimeoutMs });
    } catch (err) {
      // a malformed URL throws synchronously: treat it like an unreachable daemon
      this.lastError = errorText(err);
      this.warnDown(this.lastError);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.on('open', () => {
      const hello: Record<string, unknown> = {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        service: this.opts.service,
        instance: this.opts.instance,
        ...(this.opts.host !== '' ? { host: this.opts.host.slice(0, 256) } : {}),
        pid: this.opts.pid,
        // this SDK applies `reorder` frames to its FIFO queues (client.ts)
        features: ['reorder'],
      };
      if (this.opts.token !== undefined) hello.token = this.opts.token;
      if (this.session !== undefined) hello.resume = this.session;
      this.helloSentAt = performance.now();
      if (this.session !== undefined && this.resumeSecret !== undefined) hello.resumeSecret = this.resumeSecret;
      ws.send(JSON.stringify(hello));
      this.welcomeTimer = setTimeout(() => {
        this.lastError = `no welcome within ${this.opts.connectTimeoutMs} ms`;
        ws.terminate();
      }, this.opts.connectTimeoutMs);
    });
    ws.on('ping', () => {
      this.heardAt = Date.now();
    });
    ws.on('message', (data, isBinary) => {
      this.heardAt = Date.now();
      if (isBinary) return;
      this.receive(ws, data.toString());
    });
    ws.on('error', (err) => {
      this.lastError = errorText(err);
    });
    ws.on('close', (code, reason) => {
      if (this.welcomeTimer !== null) clearTimeout(this.welcomeTimer);
      this.welcomeTimer = null;
      if (this.ws === ws) {
        this.ws = null;
        this.stopWatchdog();
      }
      const wasWelcomed = this.welcomed;
      this.welcomed = false;
      if (wasWelcomed) this.on.down();
      if (this.closed) return;
      const why = this.lastError ?? `closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`;
      this.lastError = undefined;
      this.warnDown(why);
      this.scheduleReconnect();
    });
  }

  private receive(ws: WebSocket, text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.opts.logger.debug?.('ignoring a daemon frame that is not JSON');
      return;
    }
    const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
    const schema = SCHEMA_BY_TYPE.get(type);
    if (schema !== undefined && this.welcomed && !this.on.wants(type as ServerFrame['type'])) return;
    const parsed = (schema ?? ServerFrame).safeParse(raw);
    if (!parsed.success) {
      this.opts.logger.debug?.('ignoring a daemon frame that does not match the protocol', parsed.error.message);
      return;
    }
    const frame = parsed.data;
    if (frame.type === 'welcome') {
      if (this.welcomed) return;
      if (this.welcomeTimer !== null) clearTimeout(this.welcomeTimer);
      this.welcomeTimer = null;
      this.welcomed = true;
      this.session = frame.session;
      this.resumeSecret = frame.resumeSecret;
      this.attempt = 0;
      this.maxEventsPerFrame = frame.limits.maxEventsPerFrame;
      this.maxFrameBytes = frame.limits.maxFrameBytes;
      this.maxSnapshotEvents = frame.limits.maxSnapshotEvents;
      this.daemonClock = frame.serverTime === undefined ? null : { serverTime: frame.serverTime, helloSentAt: this.helloSentAt };
      if (frame.heartbeatMs) this.startWatchdog(ws, frame.heartbeatMs);
      if (this.warned) this.opts.logger.info?.(`connected to deadlockd at ${this.opts.url}`);
      this.warned = false;
      const first = !this.everWelcomed;
      this.everWelcomed = true;
      this.on.welcome(frame, first);
      this.firstWelcome?.();
      return;
    }
    if (!this.welcomed || this.ws !== ws) {
      // e.g. UNAUTHORIZED or PROTOCOL_VERSION before the welcome: the daemon closes next, and the
      // outage warning names the reason (once, not at every reconnect attempt)
      if (frame.type === 'error') this.lastError = `${frame.code}: ${frame.message}`;
      return;
    }
    this.on.frame(frame);
  }

  /** Cut the link (and so reconnect) when the daemon has been silent for SILENT_BEATS heartbeats. */
  private startWatchdog(ws: WebSocket, heartbeatMs: number): void {
    this.stopWatchdog();
    this.heardAt = Date.now();
    const period = Math.min(heartbeatMs, MAX_TIMER_MS);
    const limit = period * SILENT_BEATS;
    let last = performance.now();
    // Judged in setImmediate, after the event loop has read what arrived while this process was
    // busy (timers run before pending socket reads); a tick that fires late (the app blocked
    // the loop) does not judge at all.
    const check = () => {
      const now = performance.now();
      const late = now - last > period * 1.5;
      last = now;
      const silent = Date.now() - this.heardAt;
      if (late || silent <= limit || this.ws !== ws) return;
      this.lastError = `no ping or frame from the daemon for ${silent} ms (it pings every ${heartbeatMs} ms)`;
      ws.terminate();
    };
    this.watchdog = setInterval(() => setImmediate(check), period);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private scheduleReconnect(): void {
    const policy = this.opts.reconnect;
    if (this.closed || policy === false || this.reconnectTimer !== null) return;
    const base = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    // jitter: many clients that lost the same daemon do not come back in lockstep
    const delay = base * (0.5 + Math.random() * 0.5);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
    // retrying must not keep an otherwise finished process alive
    this.reconnectTimer.unref();
  }

  /** One warning per outage. */
  private warnDown(why: string): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    this.opts.logger.warn(
      `deadlockd not reachable at ${this.opts.url} (${why}); locks keep working without deadlock detection, ` +
        (this.opts.reconnect === false ? 'not reconnecting' : 'reconnecting in the background'),
    );
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
