// One WebSocket connection: decodes frames, enforces the protocol's state
// machine (hello first, exactly once, within helloTimeoutMs), hands events to
// the hub and answers with `error` frames. Fatal errors close the connection
// (1008; 1009 for size, 1007 for bad UTF-8, 1013 for a slow consumer or a busy
// snapshot budget); non-fatal ones reject one event and the connection carries on.
//
// What one connection can make the daemon hold is bounded: bytes queued for
// it (maxQueuedBytes: a client that does not read is cut off, SLOW_CONSUMER),
// error frames per second (ErrorBudget), unfinished snapshots (per connection,
// all connections together, and a deadline for the last part).
import type { FastifyBaseLogger } from 'fastify';
import { WebSocket, type RawData } from 'ws';
import {
  ERROR_CODES,
  PROTOCOL_VERSION,
  closeCodeOf,
  isFatal,
  type ClientFrame,
  type ErrorCode,
  type ErrorFrame,
  type ServerFrame,
} from '@deadlockd/proto';
import type { Config } from './config.js';
import type { BatchResult } from './engine/types.js';
import { ErrorBudget } from './error-budget.js';
import { afterPoll } from './after-poll.js';
import { byteLength, peekFrame, validateFrame } from './frame-decoder.js';
import { GuardedSocket } from './guarded-socket.js';
import type { ClientConnection, Hub } from './hub.js';
import type { Metrics } from './metrics.js';
import { ResumeSecrets } from './resume-secrets.js';
import { SnapshotBudget, SnapshotParts, locate, type Part } from './snapshot-parts.js';
import type { TokenTable } from './tokens.js';

/** A cut-off slow consumer gets this long to read its close frame before the TCP connection is dropped. */
/** what `welcome.features` announces: resource handles (proto ResourceEvent.handle) */
const DAEMON_FEATURES = ['handles'];
const SLOW_CONSUMER_LINGER_MS = 1_000;
/**
 * frames at least this big give the event loop a turn after them: a snapshot part or a full events
 * frame of the SDKs' 2,000 events is 100-130 KB and costs 2-4 ms to parse and check
 */
const YIELD_AFTER_BYTES = 64 * 1024;

type State = 'awaiting-hello' | 'active' | 'closed';

type Ref = ErrorFrame['ref'];

/** What every session of one daemon shares. */
export interface SessionShared {
  snapshotBudget: SnapshotBudget;
  resumeSecrets: ResumeSecrets;
}

export function sessionShared(config: Config): SessionShared {
  return { snapshotBudget: new SnapshotBudget(config.maxSnapshotEventsInFlight), resumeSecrets: new ResumeSecrets() };
}

export class Session implements ClientConnection {
  private state: State = 'awaiting-hello';
  private clientId: string | null = null;
  private log: FastifyBaseLogger;
  private readonly snapshot: SnapshotParts;
  private readonly errors: ErrorBudget;
  private helloTimer: NodeJS.Timeout | null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private suppressedTimer: NodeJS.Timeout | null = null;
  /**
   * Frames that arrived while this client's namespace was searching in slices (namespace.ts):
   * handled in order once it is done. Meanwhile the socket is paused, so they stay few.
   */
  private held: ClientFrame[] = [];

  private readonly socket: WebSocket;
  private readonly hub: Hub;
  private readonly metrics: Metrics;
  private readonly tokens: TokenTable;
  private readonly config: Config;
  private readonly shared: SessionShared;

  constructor(o: { socket: WebSocket; hub: Hub; metrics: Metrics; tokens: TokenTable; config: Config; log: FastifyBaseLogger; shared?: SessionShared }) {
    const { socket, config } = o;
    this.socket = socket;
    this.hub = o.hub;
    this.metrics = o.metrics;
    this.tokens = o.tokens;
    this.config = config;
    this.log = o.log;
    this.shared = o.shared ?? sessionShared(config);
    this.snapshot = new SnapshotParts(config.maxSnapshotEvents, this.shared.snapshotBudget);
    this.errors = new ErrorBudget(config.maxErrorFramesPerSecond);
    // Attached synchronously, before anything async can happen: a message that
    // arrives before its listener is dropped by ws.
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', () => this.onClose());
    if (socket instanceof GuardedSocket) socket.onOversize = () => this.oversizeByWs();
    this.helloTimer = setTimeout(() => this.helloTimeout(), config.helloTimeoutMs);
    this.helloTimer.unref();
  }

  get id(): string | null {
    return this.clientId;
  }

  send(frame: ServerFrame): void {
    if (this.state === 'closed' || this.socket.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(frame);
    // ws queues whatever the peer does not read; unbounded, a client that never reads
    // could make the daemon hold gigabytes of frames for it
    if (this.socket.bufferedAmount + text.length > this.config.maxQueuedBytes) return this.slowConsumer(text.length);
    this.socket.send(text);
  }

  private sendError(code: ErrorCode, message: string, ref?: Ref): void {
    if (!isFatal(code) && !this.errors.take()) {
      this.metrics.errorsSuppressed.inc();
      this.scheduleSuppressedSummary();
      return;
    }
    this.metrics.errorSent(code);
    const frame: ErrorFrame = { type: 'error', code, message, fatal: isFatal(code) };
    if (ref) frame.ref = ref;
    this.send(frame);
  }

  /** One ERRORS_SUPPRESSED a second at most, with the count of the errors not sent. */
  private scheduleSuppressedSummary(): void {
    if (this.suppressedTimer) return;
    this.suppressedTimer = setTimeout(() => {
      this.suppressedTimer = null;
      const n = this.errors.takeSuppressed();
      if (n === 0 || this.state === 'closed') return;
      this.metrics.errorSent('ERRORS_SUPPRESSED');
      this.send({
        type: 'error',
        code: 'ERRORS_SUPPRESSED',
        message: `${n} error frame(s) were not sent: more than ${this.config.maxErrorFramesPerSecond} per second (--max-error-frames-per-second)`,
        fatal: false,
      });
    }, 1_000);
    this.suppressedTimer.unref();
  }

  /** Sends the error, then closes: nothing else from this connection is processed. */
  private fatal(code: ErrorCode, message: string, ref?: Ref): void {
    if (this.state === 'closed') return;
    this.log.warn({ client: this.clientId, code, message }, 'protocol error; closing the connection');
    this.sendError(code, message, ref);
    this.state = 'closed';
    this.socket.close(closeCodeOf(code), code);
  }

  /** ws is about to close the connection with 1009 (a message over maxPayload): say why first. */
  private oversizeByWs(): void {
    if (this.state === 'closed') return;
    const message = `frame exceeds the limit of ${this.config.maxFrameBytes} bytes`;
    this.log.warn({ client: this.clientId, code: 'FRAME_TOO_LARGE', message }, 'protocol error; closing the connection');
    this.sendError('FRAME_TOO_LARGE', message);
    this.state = 'closed';
  }

  private helloTimeout(): void {
    this.helloTimer = null;
    if (this.state !== 'awaiting-hello') return;
    this.metrics.connectionsCut.inc({ reason: 'hello_timeout' });
    this.fatal('HELLO_TIMEOUT', `${ERROR_CODES.HELLO_TIMEOUT.text} (${this.config.helloTimeoutMs} ms, --hello-timeout-ms)`);
  }

  /**
   * More is queued for this client than allowed: it does not read. Stop sending, close
   * (1013) and drop the TCP connection soon after, which frees what ws had queued.
   */
  private slowConsumer(nextBytes: number): void {
    const queued = this.socket.bufferedAmount;
    this.metrics.connectionsCut.inc({ reason: 'slow_consumer' });
    this.metrics.errorSent('SLOW_CONSUMER');
    this.log.warn(
      { client: this.clientId, queuedBytes: queued, nextBytes, maxQueuedBytes: this.config.maxQueuedBytes },
      'client does not read its frames; cut off (SLOW_CONSUMER)',
    );
    this.state = 'closed';
    const socket = this.socket;
    // over the budget by this one small frame: if the client reads at all it learns why
    socket.send(JSON.stringify({ type: 'error', code: 'SLOW_CONSUMER', message: `${ERROR_CODES.SLOW_CONSUMER.text}: ${queued} bytes queued, limit ${this.config.maxQueuedBytes} (--max-queued-bytes)`, fatal: true } satisfies ErrorFrame));
    socket.close(closeCodeOf('SLOW_CONSUMER'), 'SLOW_CONSUMER');
    setTimeout(() => socket.terminate(), SLOW_CONSUMER_LINGER_MS).unref();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    try {
      this.decodeAndDispatch(data, isBinary);
    } catch (err) {
      // Whatever a frame does, it must not escape into ws's data handler: there
      // an exception is uncaught and ends the daemon for every client.
      this.log.error({ err, client: this.clientId }, 'failed to decode a frame');
      this.sendError('INTERNAL', `${ERROR_CODES.INTERNAL.text}: the frame could not be decoded`);
    }
    if (byteLength(data) >= YIELD_AFTER_BYTES) this.yieldTurn();
  }

  /**
   * After a big frame, the next one of this connection is read after the event loop has polled:
   * ws hands on, in one go, every frame the reads of one turn brought, and a client sending
   * 10,000-event snapshot parts back to back (~10 ms each to parse and check) held the loop for
   * several of them (60-94 ms for a 100k-hold snapshot) while every other connection waited.
   */
  private yieldTurn(): void {
    if (this.state === 'closed' || this.socket.isPaused) return; // paused already: frames held (hold)
    this.socket.pause();
    afterPoll(() => {
      if (this.held.length === 0 && this.socket.isPaused) this.socket.resume();
    });
  }

  private decodeAndDispatch(data: RawData, isBinary: boolean): void {
    const peeked = peekFrame(data, isBinary, this.config.maxFrameBytes);
    if (!peeked.ok) return this.fatal(peeked.code, peeked.message, peeked.ref);
    if (this.state === 'awaiting-hello' && peeked.type !== 'hello') {
      return this.fatal('HELLO_REQUIRED', `${ERROR_CODES.HELLO_REQUIRED.text}; got \`${peeked.type}\``);
    }
    if (this.state === 'active' && peeked.type === 'hello') {
      return this.fatal('DUPLICATE_HELLO', ERROR_CODES.DUPLICATE_HELLO.text);
    }
    const v = validateFrame(peeked, this.config.maxEventsPerFrame);
    if (!v.ok) return this.fatal(v.code, v.message, v.ref);
    if (v.frame.type !== 'hello' && (this.held.length > 0 || this.hub.busy(this.requireId()))) return this.hold(v.frame);
    this.handle(v.frame);
  }

  private handle(frame: ClientFrame): void {
    try {
      this.dispatch(frame);
    } catch (err) {
      // An engine bug must not take the daemon down, nor leave the client guessing.
      this.log.error({ err, client: this.clientId, type: frame.type }, 'failed to handle a frame');
      const seq = 'seq' in frame ? frame.seq : undefined;
      this.sendError('INTERNAL', `${ERROR_CODES.INTERNAL.text}: ${(err as Error).message}`, seq === undefined ? undefined : { seq });
    }
  }

  /** The namespace is searching: keep the frame for later and stop reading until then. */
  private hold(frame: ClientFrame): void {
    this.held.push(frame);
    if (this.held.length > 1) return;
    this.socket.pause();
    this.hub.whenIdle(this.requireId(), () => this.release());
  }

  /** Handles the held frames in order, until the namespace starts another search. */
  private release(): void {
    const id = this.clientId;
    while (this.held.length > 0) {
      if (id === null || this.hub.client(id) === undefined) {
        this.held = []; // the client was removed meanwhile: nothing left to apply them to
        break;
      }
      if (this.hub.busy(id)) {
        this.hub.whenIdle(id, () => this.release());
        return;
      }
      this.handle(this.held.shift() as ClientFrame);
    }
    if (this.socket.isPaused) this.socket.resume();
  }

  private dispatch(frame: ClientFrame): void {
    switch (frame.type) {
      case 'hello':
        return this.onHello(frame);
      case 'events':
        if (this.snapshot.pending) return this.fatal('SNAPSHOT_INCOMPLETE', ERROR_CODES.SNAPSHOT_INCOMPLETE.text, { seq: frame.seq });
        return this.reportErrors(frame.seq, this.hub.events(this.requireId(), frame.events));
      case 'snapshot':
        return this.onSnapshotPart(frame);
      case 'abort_result':
        return this.hub.abortAnswered(this.requireId(), frame.waitId, frame.deadlock, frame.result);
      case 'confirm_result':
        return this.hub.confirmAnswered(this.requireId(), frame.check, frame.pending);
    }
  }

  private onHello(hello: Extract<ClientFrame, { type: 'hello' }>): void {
    if (hello.protocol !== PROTOCOL_VERSION) {
      return this.fatal(
        'PROTOCOL_VERSION',
        `protocol version ${hello.protocol} is not supported; this daemon speaks version ${PROTOCOL_VERSION}`,
      );
    }
    // The token decides the namespace; without auth everything is in 'default'.
    const namespace = this.tokens.namespaceOf(hello.token);
    if (namespace === null) {
      return this.fatal('UNAUTHORIZED', hello.token === undefined ? `${ERROR_CODES.UNAUTHORIZED.text}: hello carries no token` : ERROR_CODES.UNAUTHORIZED.text);
    }
    // A session is resumed only by whoever holds the secret its last welcome carried;
    // anyone else (the id is listed by GET /v1/clients) gets a session of their own.
    const old = hello.resume === undefined ? undefined : this.hub.client(hello.resume);
    const mayResume = old !== undefined && this.shared.resumeSecrets.matches(old, hello.resumeSecret);
    if (old !== undefined && !mayResume) {
      this.log.warn({ session: hello.resume, secretGiven: hello.resumeSecret !== undefined }, 'resume refused: wrong or missing resumeSecret; a new session starts');
    }
    const { client, resumed } = this.hub.attach(
      { service: hello.service, instance: hello.instance, host: hello.host, pid: hello.pid, resume: mayResume ? hello.resume : undefined, features: hello.features },
      this,
      namespace,
    );
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.clientId = client.id;
    this.log = this.log.child({ client: client.id, service: client.service });
    this.state = 'active';
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      session: client.id,
      namespace: client.namespace,
      limits: {
        maxFrameBytes: this.config.maxFrameBytes,
        maxEventsPerFrame: this.config.maxEventsPerFrame,
        maxSnapshotEvents: this.config.maxSnapshotEvents,
        snapshotTimeoutMs: this.config.snapshotTimeoutMs,
        maxQueuedBytes: this.config.maxQueuedBytes,
      },
      resumed,
      resumeSecret: this.shared.resumeSecrets.issue(client),
      heartbeatMs: this.config.heartbeatMs,
      serverTime: this.hub.now(),
      features: DAEMON_FEATURES,
    });
  }

  /** Parts are held until the last one; then the whole snapshot replaces the client's state at once. */
  private onSnapshotPart(frame: Extract<ClientFrame, { type: 'snapshot' }>): void {
    const added = this.snapshot.add(frame.seq, frame.events, frame.more === true);
    if (!added.ok) {
      this.stopSnapshotTimer();
      return this.fatal(added.busy ? 'SNAPSHOT_BUSY' : 'SNAPSHOT_TOO_LARGE', added.message, { seq: frame.seq });
    }
    if (!added.complete) {
      if (!this.snapshotTimer) {
        this.snapshotTimer = setTimeout(() => this.snapshotTimeout(), this.config.snapshotTimeoutMs);
        this.snapshotTimer.unref();
      }
      return;
    }
    this.stopSnapshotTimer();
    const { events, parts } = this.snapshot.take();
    this.log.info({ events: events.length, parts: parts.length }, 'snapshot applied: client state replaced');
    this.hub.snapshot(this.requireId(), events, (r) => this.reportErrors(parts, r));
  }

  private snapshotTimeout(): void {
    this.snapshotTimer = null;
    if (!this.snapshot.pending || this.state === 'closed') return;
    this.snapshot.clear();
    this.metrics.connectionsCut.inc({ reason: 'snapshot_timeout' });
    this.fatal('SNAPSHOT_TIMEOUT', `${ERROR_CODES.SNAPSHOT_TIMEOUT.text} (${this.config.snapshotTimeoutMs} ms, --snapshot-timeout-ms)`);
  }

  private stopSnapshotTimer(): void {
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
  }

  private requireId(): string {
    if (this.clientId === null) throw new Error('session has no client id after hello');
    return this.clientId;
  }

  /**
   * One `error` frame per rejected event, pointing at the frame (seq) and the event (index).
   * `from` is the frame's seq, or the parts of a snapshot the events were joined from.
   */
  private reportErrors(from: number | Part[] | undefined, result: BatchResult): void {
    for (const e of result.errors) {
      if (this.state === 'closed') return;
      const ref: NonNullable<Ref> = Array.isArray(from) ? locate(from, e.index) : { index: e.index };
      if (typeof from === 'number') ref.seq = from;
      this.sendError(e.code, e.message, ref);
    }
  }

  private onClose(): void {
    this.state = 'closed';
    // what this connection held goes with it: its snapshot parts (and their share of the budget), its timers
    this.snapshot.clear();
    this.stopSnapshotTimer();
    if (this.helloTimer) clearTimeout(this.helloTimer);
    if (this.suppressedTimer) clearTimeout(this.suppressedTimer);
    this.helloTimer = this.suppressedTimer = null;
    if (this.clientId !== null) this.hub.detach(this.clientId, this);
  }
}
