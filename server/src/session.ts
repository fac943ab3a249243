// One WebSocket connection: decodes frames, enforces the protocol's state
// machine (hello first, exactly once), hands events to the hub and answers
// with `error` frames. Fatal errors close the connection (1008, or 1009 for
// size); non-fatal ones reject one event and the connection carries on.
import type { FastifyBaseLogger } from 'fastify';
import { WebSocket, type RawData } from 'ws';
import {
  ERROR_CODES,
  PROTOCOL_VERSION,
  isFatal,
  type ClientFrame,
  type ErrorCode,
  type ErrorFrame,
  type ServerFrame,
} from '@deadlockd/proto';
import type { Config } from './config.js';
import type { BatchResult } from './engine/types.js';
import { peekFrame, validateFrame } from './frame-decoder.js';
import type { ClientConnection, Hub } from './hub.js';
import type { Metrics } from './metrics.js';
import type { TokenTable } from './tokens.js';
import { SnapshotParts, locate, type Part } from './snapshot-parts.js';

const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_MESSAGE_TOO_BIG = 1009;

type State = 'awaiting-hello' | 'active' | 'closed';

type Ref = ErrorFrame['ref'];

export class Session implements ClientConnection {
  private state: State = 'awaiting-hello';
  private clientId: string | null = null;
  private log: FastifyBaseLogger;
  private readonly snapshot: SnapshotParts;

  private readonly socket: WebSocket;
  private readonly hub: Hub;
  private readonly metrics: Metrics;
  private readonly tokens: TokenTable;
  private readonly config: Config;

  constructor(o: { socket: WebSocket; hub: Hub; metrics: Metrics; tokens: TokenTable; config: Config; log: FastifyBaseLogger }) {
    const { socket, config } = o;
    this.socket = socket;
    this.hub = o.hub;
    this.metrics = o.metrics;
    this.tokens = o.tokens;
    this.config = config;
    this.log = o.log;
    this.snapshot = new SnapshotParts(config.maxSnapshotEvents);
    // Attached synchronously, before anything async can happen: a message that
    // arrives before its listener is dropped by ws.
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', () => this.onClose());
  }

  get id(): string | null {
    return this.clientId;
  }

  send(frame: ServerFrame): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private sendError(code: ErrorCode, message: string, ref?: Ref): void {
    this.metrics.errorSent(code);
    const frame: ErrorFrame = { type: 'error', code, message, fatal: isFatal(code) };
    if (ref) frame.ref = ref;
    this.send(frame);
  }

  /** Sends the error, then closes: nothing else from this connection is processed. */
  private fatal(code: ErrorCode, message: string, ref?: Ref): void {
    this.log.warn({ client: this.clientId, code, message }, 'protocol error; closing the connection');
    this.sendError(code, message, ref);
    this.state = 'closed';
    this.socket.close(code === 'FRAME_TOO_LARGE' ? CLOSE_MESSAGE_TOO_BIG : CLOSE_POLICY_VIOLATION, code);
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
    try {
      this.dispatch(v.frame);
    } catch (err) {
      // An engine bug must not take the daemon down, nor leave the client guessing.
      this.log.error({ err, client: this.clientId, type: v.frame.type }, 'failed to handle a frame');
      const seq = 'seq' in v.frame ? v.frame.seq : undefined;
      this.sendError('INTERNAL', `${ERROR_CODES.INTERNAL.text}: ${(err as Error).message}`, seq === undefined ? undefined : { seq });
    }
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
    const { client, resumed } = this.hub.attach(
      { service: hello.service, instance: hello.instance, resume: hello.resume },
      this,
      namespace,
    );
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
      },
      resumed,
      heartbeatMs: this.config.heartbeatMs,
      serverTime: this.hub.now(),
    });
  }

  /** Parts are held until the last one; then the whole snapshot replaces the client's state at once. */
  private onSnapshotPart(frame: Extract<ClientFrame, { type: 'snapshot' }>): void {
    const added = this.snapshot.add(frame.seq, frame.events, frame.more === true);
    if (!added.ok) return this.fatal('SNAPSHOT_TOO_LARGE', added.message, { seq: frame.seq });
    if (!added.complete) return;
    const { events, parts } = this.snapshot.take();
    this.log.info({ events: events.length, parts: parts.length }, 'snapshot applied: client state replaced');
    this.reportErrors(parts, this.hub.snapshot(this.requireId(), events));
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
      const ref: NonNullable<Ref> = Array.isArray(from) ? locate(from, e.index) : { index: e.index };
      if (typeof from === 'number') ref.seq = from;
      this.sendError(e.code, e.message, ref);
    }
  }

  private onClose(): void {
    this.state = 'closed';
    if (this.clientId !== null) this.hub.detach(this.clientId, this);
  }
}
