// connect() and the Client: owns the connection, the reporter, the owner context and the
// registry of named primitives, and answers the daemon's abort/confirm questions.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { AbortFrame, ConfirmFrame, DeadlockReport, Hazard, ServerFrame } from '@deadlockd/proto';
import { Connection } from './connection.js';
import { DeadlockError } from './errors.js';
import { LockOrderTracker } from './lock-order.js';
import { consoleLogger, type Logger } from './logger.js';
import type { CallSite } from './model.js';
import { Owners, type TaskOptions } from './owners.js';
import { Mutex } from './primitives/mutex.js';
import { QueuedPrimitive } from './primitives/queue.js';
import { RWLock } from './primitives/rwlock.js';
import { Semaphore } from './primitives/semaphore.js';
import { ExternalPool, type PoolOptions } from './pool.js';
import { Reporter } from './reporter.js';
import { SharedResource, type SharedResourceOptions } from './resource.js';
import { TaskHandle } from './task-handle.js';
import { retryOnDeadlock, type RetryOptions } from './retry.js';
import type { PendingWait, Runtime } from './runtime.js';
import { loadTracing, markDeadlockVictim, type Tracing } from './tracing.js';

export interface ConnectOptions {
  /** e.g. ws://127.0.0.1:7070/v1/stream */
  url: string;
  service: string;
  /**
   * This process's name in reports and logs (a pod, a deployment color, a worker name); default
   * `${hostname}:${pid}`. The host name and pid are sent besides it either way.
   */
  instance?: string;
  /**
   * default true: if the app has `@opentelemetry/api` (an optional peer dependency, imported
   * once by connect()), tasks and contended waits carry the active span's trace and span ids to
   * the daemon's reports, and a deadlock victim's span gets a `deadlockd.deadlock` event. false:
   * never import it.
   */
  tracing?: boolean;
  token?: string;
  /** holds/waits younger than this never leave the process (default 2; 0 reports everything) */
  reportAfterMs?: number;
  /** batch events for this long before sending (default 1); 0: flush on setImmediate */
  flushIntervalMs?: number;
  /** default 2000; without a welcome by then connect() still resolves (fail-open, one warning) */
  connectTimeoutMs?: number;
  /** default backoff 100 ms .. 5 s, jittered; false: never reconnect */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number } | false;
  /** default true: call site of a contended acquire, formatted only when reported */
  captureStacks?: boolean;
  /** bound on the outgoing buffer (default 100_000); over it the buffer is dropped and a snapshot resyncs */
  maxBufferedEvents?: number;
  logger?: Logger;
}

type Named = Mutex | Semaphore | RWLock | SharedResource | ExternalPool;

/** Defaults that keep the SDK cheap: see "What is reported, and what it costs" in the README. */
export const DEFAULT_REPORT_AFTER_MS = 2;
export const DEFAULT_FLUSH_INTERVAL_MS = 1;

/** What the SDK sent so far and holds now (diagnostics; the bench reads it). */
export interface ClientStats {
  /** events sent to the daemon since connect() (all connections) */
  eventsSent: number;
  framesSent: number;
  /** events waiting for the next flush (0 while disconnected: nothing is buffered then) */
  bufferedEvents: number;
  /** holds and waits the SDK tracks now */
  liveRecords: number;
}

export interface ClientEvents {
  deadlock: [report: DeadlockReport];
  hazard: [hazard: Hazard];
}

/**
 * Connect to the daemon: `connect({ url, service, … })` or `connect(url, { service, … })`.
 * Resolves at the welcome, or after connectTimeoutMs without one (fail-open).
 */
export async function connect(options: ConnectOptions): Promise<Client>;
export async function connect(url: string, options: Omit<ConnectOptions, 'url'>): Promise<Client>;
export async function connect(a: ConnectOptions | string, b?: Omit<ConnectOptions, 'url'>): Promise<Client> {
  const options: ConnectOptions = typeof a === 'string' ? { ...(b as Omit<ConnectOptions, 'url'>), url: a } : a;
  const client = new Client(options);
  if (options.tracing !== false) client.useTracing(await loadTracing());
  await client.start();
  return client;
}

export class Client extends EventEmitter<ClientEvents> {
  readonly service: string;
  readonly instance: string;
  private readonly rt: Runtime;
  private readonly reporter: Reporter;
  private readonly owners = new Owners();
  private readonly conn: Connection;
  private readonly named = new Map<string, Named>();
  private nextWait = 0;
  private closed = false;

  constructor(options: ConnectOptions) {
    super();
    if (typeof options.url !== 'string' || options.url.length === 0) throw new TypeError('connect: `url` is required');
    if (typeof options.service !== 'string' || options.service.length === 0) {
      throw new TypeError('connect: `service` is required');
    }
    this.service = options.service;
    this.instance = options.instance ?? `${hostname()}:${process.pid}`;
    const logger = options.logger ?? consoleLogger;
    this.reporter = new Reporter({
      reportAfterMs: nonNegative(options.reportAfterMs, DEFAULT_REPORT_AFTER_MS, 'reportAfterMs'),
      flushIntervalMs: nonNegative(options.flushIntervalMs, DEFAULT_FLUSH_INTERVAL_MS, 'flushIntervalMs'),
      maxBufferedEvents: Math.max(1, nonNegative(options.maxBufferedEvents, 100_000, 'maxBufferedEvents')),
      logger,
    });
    const captureStacks = options.captureStacks ?? true;
    const site = captureStacks ? captureSite : noSite;
    this.rt = {
      reporter: this.reporter,
      owners: this.owners,
      logger,
      order: new LockOrderTracker(this.reporter, logger, site),
      waits: new Map<string, PendingWait>(),
      newWaitId: () => `w${++this.nextWait}`,
      captureSite: site,
    };
    const rc = options.reconnect;
    this.conn = new Connection(
      {
        url: options.url,
        service: this.service,
        instance: this.instance,
        host: hostname(),
        pid: process.pid,
        token: options.token,
        connectTimeoutMs: nonNegative(options.connectTimeoutMs, 2000, 'connectTimeoutMs'),
        reconnect:
          rc === false ? false : { minDelayMs: rc?.minDelayMs ?? 100, maxDelayMs: rc?.maxDelayMs ?? 5000 },
        logger,
      },
      {
        // a reconnect always resyncs with a snapshot; a first connection only if state exists already
        welcome: (frame, first) => this.reporter.attach(this.conn, !first, frame.features?.includes('handles') === true),
        down: () => this.reporter.detach(),
        frame: (frame) => this.onFrame(frame),
        wants: (type) => type !== 'deadlock' || this.listenerCount('deadlock') > 0,
      },
    );
  }

  /** @internal used by connect(): the app's OpenTelemetry API (tracing.ts), or null */
  useTracing(tracing: Tracing | null): void {
    this.owners.tracing = tracing;
  }

  /** @internal used by connect() */
  start(): Promise<void> {
    return this.conn.start();
  }

  /** the logger the SDK writes to (the adapters warn through it) */
  get logger(): Logger {
    return this.rt.logger;
  }

  /** true while a welcomed connection to the daemon is open */
  get connected(): boolean {
    return this.conn.isWelcomed;
  }

  /** A FIFO mutex; `{ reentrant: true }`: its holder may take it again (counted, like Java's ReentrantLock). */
  mutex(name: string, opts?: LockOptions): Mutex {
    return this.sameReentrancy(this.lookup(name, Mutex, () => new Mutex(this.rt, name, opts?.reentrant ?? false, lockClassOf(opts))), opts);
  }

  semaphore(name: string, capacity: number): Semaphore {
    return this.lookup(name, Semaphore, () => new Semaphore(this.rt, name, capacity));
  }

  /** A FIFO readers-writer lock; `{ reentrant: true }`: like Java's ReentrantReadWriteLock (counted re-entry). */
  rwlock(name: string, opts?: LockOptions): RWLock {
    return this.sameReentrancy(this.lookup(name, RWLock, () => new RWLock(this.rt, name, opts?.reentrant ?? false, lockClassOf(opts))), opts);
  }

  private sameReentrancy<P extends Mutex | RWLock>(p: P, opts: LockOptions | undefined): P {
    if (opts?.reentrant !== undefined && opts.reentrant !== p.reentrant)
      throw new TypeError(`'${p.id}' already exists ${p.reentrant ? '' : 'not '}reentrant; one name, one kind`);
    return p;
  }

  /**
   * A shared cross-process resource, reported only (scope global): a distributed lock by default;
   * `{ mode: 'shared' }` a cross-process readers-writer lock; `{ capacity: n }` a counted one
   * (a distributed semaphore, a database's connection limit).
   */
  resource(name: string, opts?: SharedResourceOptions): SharedResource {
    const r = this.lookup(name, SharedResource, () => new SharedResource(this.rt, name, opts));
    if (opts !== undefined && ((opts.mode ?? 'exclusive') !== (r.opts.mode ?? 'exclusive') || opts.capacity !== r.capacity))
      throw new TypeError(`resource '${name}' already exists with other options; one name, one kind`);
    return r;
  }

  /**
   * A pool that lives outside the SDK (e.g. a pg.Pool), reported only: each checkout is one unit
   * of `capacity` (scope local). The adapters (`@deadlockd/client/pg`) use it.
   */
  pool(name: string, capacity: number, opts: PoolOptions = {}): ExternalPool {
    const p = this.lookup(name, ExternalPool, () => new ExternalPool(this.rt, name, capacity, opts));
    if (p.capacity !== capacity) p.setCapacity(capacity);
    return p;
  }

  /** What the SDK sent so far and holds now. */
  get stats(): ClientStats {
    return this.reporter.stats();
  }

  /** Run fn as a new owner (task); resolves with fn's result. */
  task<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
  task<T>(name: string, opts: TaskOptions, fn: () => T | Promise<T>): Promise<T>;
  task<T>(name: string, a: TaskOptions | (() => T | Promise<T>), b?: () => T | Promise<T>): Promise<T> {
    const [opts, fn] = taskArgs(a, b);
    const owner = this.owners.create(name, opts);
    return this.owners.run(owner, fn).finally(() => this.reporter.ownerEnded(owner));
  }

  /** Start a task now; `join()` on the handle waits for it (a wait the daemon sees). */
  spawn<T>(name: string, fn: () => T | Promise<T>): TaskHandle<T>;
  spawn<T>(name: string, opts: TaskOptions, fn: () => T | Promise<T>): TaskHandle<T>;
  spawn<T>(name: string, a: TaskOptions | (() => T | Promise<T>), b?: () => T | Promise<T>): TaskHandle<T> {
    const [opts, fn] = taskArgs(a, b);
    return new TaskHandle<T>(this.rt, this.owners.create(name, opts), fn);
  }

  retryOnDeadlock<T>(fn: () => T | Promise<T>, opts?: RetryOptions): Promise<T> {
    return retryOnDeadlock(fn, opts);
  }

  /** Flush what is buffered and close the connection. Primitives keep working locally afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reporter.flush(true);
    await this.conn.close();
    this.reporter.detach(); // also cancels its timers
  }

  private lookup<P extends Named>(name: string, kind: abstract new (...a: never[]) => P, make: () => P): P {
    const found = this.named.get(name);
    if (found !== undefined) {
      if (found instanceof kind) return found;
      throw new TypeError(`'${name}' is already a ${kindName(found)}; one name, one kind`);
    }
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
      throw new TypeError('a resource name is a string of 1 to 256 characters');
    }
    const made = make();
    this.named.set(name, made);
    return made;
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'abort':
        this.onAbort(frame);
        return;
      case 'confirm':
        this.onConfirm(frame);
        return;
      case 'reorder': {
        // a deadlock resolved (or an abort's units handed on) by moving waits ahead in a FIFO queue
        const p = this.named.get(frame.resource);
        if (p instanceof QueuedPrimitive) p.moveToFront(frame.waits);
        return;
      }
      case 'deadlock':
        this.emit('deadlock', frame.report);
        return;
      case 'hazard':
        this.rt.logger.debug?.(`hazard: ${frame.hazard.text}`);
        this.emit('hazard', frame.hazard);
        return;
      case 'error':
        this.rt.logger.warn(`daemon error ${frame.code}${frame.fatal ? ' (fatal)' : ''}: ${frame.message}`);
        return;
      default:
        return;
    }
  }

  /**
   * Reject exactly that pending wait; the cancel reaches the daemon before the answer.
   * An abort that may have expired is refused: the daemon has chosen, or will choose,
   * another victim, and carrying this one out too would abort twice for one deadlock.
   */
  private onAbort(frame: AbortFrame): void {
    const wait = this.rt.waits.get(frame.waitId);
    let result: 'aborted' | 'stale' | 'expired' = 'stale';
    const daemonNow = this.conn.daemonClockAtMost();
    if (wait !== undefined && frame.expiresAt !== undefined && daemonNow !== undefined && daemonNow > frame.expiresAt) {
      result = 'expired';
      this.rt.logger.warn(`abort for deadlock ${frame.deadlock} arrived after it expired; not carried out (the daemon chooses again)`);
    } else if (wait !== undefined && wait.rec.owner.id === frame.owner) {
      const rec = wait.rec;
      markDeadlockVictim((rec.span ?? rec.owner.span)?.span, frame.deadlock, frame.waitId, rec.resource?.id);
      wait.abort(new DeadlockError(frame.deadlock, frame.report));
      result = 'aborted';
    }
    const answer = () => {
      this.reporter.flush(true);
      this.reporter.sendControl({ type: 'abort_result', deadlock: frame.deadlock, waitId: frame.waitId, result });
    };
    // After a DeadlockError, the cancel and the answer leave on the next turn: written here,
    // their two socket writes (a syscall each, 0.2-0.3 ms on a VM) ran before the app's handler
    // of the rejection above (abort → DeadlockError p50 0.65 → 0.43 ms, p99 3.3-5.0 → 0.7-1.0
    // ms, measured side by side). The order on the wire stays cancel, then answer; what that
    // handler reported meanwhile (the releases of a retry loop) goes in the same frame.
    if (result === 'aborted') this.answerSoon(answer);
    else this.answerInOrder(answer);
  }

  /** Answers waiting for the next turn (answerSoon), in the order their questions came. */
  private answers: (() => void)[] = [];

  private answerSoon(answer: () => void): void {
    this.answers.push(answer);
    if (this.answers.length > 1) return;
    setImmediate(() => {
      const all = this.answers;
      this.answers = [];
      for (const a of all) a();
    });
  }

  /** Now, unless an earlier answer waits for the next turn: the daemon reads answers in the order it asked. */
  private answerInOrder(answer: () => void): void {
    if (this.answers.length > 0) this.answers.push(answer);
    else answer();
  }

  /** Everything buffered first, then which of the asked waits are still pending here. */
  private onConfirm(frame: ConfirmFrame): void {
    this.answerInOrder(() => {
      this.reporter.flush(true);
      const pending = frame.waits.filter((id) => this.rt.waits.has(id));
      this.reporter.sendControl({ type: 'confirm_result', check: frame.check, pending });
    });
  }
}

export interface LockOptions {
  /** the holding owner may acquire it again; it is free once every acquisition was released (default false) */
  reentrant?: boolean;
  /**
   * Lock class, as in Linux lockdep (e.g. 'account' for every `account:<id>` mutex): the daemon
   * reasons about nesting per class, so two accounts locked one inside the other are reported
   * the first time, before the opposite order ever runs.
   */
  class?: string;
}

function lockClassOf(opts: { class?: string } | undefined): string | undefined {
  const c = opts?.class;
  if (c === undefined) return undefined;
  if (typeof c !== 'string' || c.length === 0 || c.length > 256) throw new TypeError('a lock class is a string of 1 to 256 characters');
  return c;
}

function taskArgs<T>(
  a: TaskOptions | (() => T | Promise<T>),
  b: (() => T | Promise<T>) | undefined,
): [TaskOptions | undefined, () => T | Promise<T>] {
  if (typeof a === 'function') return [undefined, a];
  if (typeof b !== 'function') throw new TypeError('task: a function to run is required');
  return [a, b];
}

function kindName(x: Named): string {
  if (x instanceof Mutex) return 'mutex';
  if (x instanceof Semaphore) return 'semaphore';
  if (x instanceof RWLock) return 'rwlock';
  if (x instanceof ExternalPool) return 'pool';
  return 'resource';
}

function nonNegative(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v >= 0)) throw new TypeError(`connect: \`${what}\` must be a number >= 0`);
  return v;
}

// Error.captureStackTrace records the frames now but formats `stack` only when it is read,
// which happens only if the wait is reported.
function captureSite(above: Function): CallSite {
  const site: CallSite = {};
  Error.captureStackTrace(site, above);
  return site;
}

function noSite(): null {
  return null;
}
