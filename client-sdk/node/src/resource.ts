// A shared, cross-process resource (a distributed lock, a database advisory lock) that the SDK
// does not implement, only reports: acquire(fn) reports a wait while fn takes the real lock and a
// hold once it has it. If the daemon picks this wait as a deadlock victim, the signal given to fn
// aborts (reason: the DeadlockError) and acquire rejects at once; a lock that still arrives later
// is handed to `dispose` so it is not leaked.
import type { LockMode, ResourceEvent } from '@deadlockd/proto';
import type { Runtime } from './runtime.js';
import { abortReason } from './errors.js';
import { ExternalResource, type ExternalHeld } from './external.js';
import type { Held } from './held.js';
import type { WaitOptions } from './waiter.js';

export interface ResourceAcquireOptions<T> extends WaitOptions {
  /** gives back a lock that fn delivered after the wait had been aborted (deadlock, timeout, signal) */
  dispose?: (value: T) => void | Promise<void>;
  /**
   * gives back the real lock when the hold is disposed (`await using h = await r.acquire(fn, { release })`);
   * release() itself only reports, as without this option
   */
  release?: (value: T) => void | Promise<void>;
  /** a resource declared `{ mode: 'shared' }`: which mode this acquire takes (default 'exclusive') */
  mode?: LockMode;
  /** a resource declared with a `capacity`: how many units this acquire takes (default 1) */
  units?: number;
}

/** How a shared cross-process resource grants (the same on every client that declares it). */
export interface SharedResourceOptions {
  /**
   * 'exclusive' (default): one holder at a time, a distributed lock. 'shared': a cross-process
   * readers-writer lock; each acquire says `{ mode: 'shared' | 'exclusive' }`.
   */
  mode?: 'exclusive' | 'shared';
  /**
   * A counted resource of this many units (a distributed semaphore, a database's connection
   * limit); each acquire takes `units` (default 1). Not together with `mode: 'shared'`.
   */
  capacity?: number;
  /** shown in deadlock reports */
  label?: string;
  /** lock class for hazard analysis (lockdep), e.g. 'order-lock' for every `order:<id>` lock */
  class?: string;
}

export interface ResourceHeld<T> extends Held {
  /** what fn resolved to */
  readonly value: T;
}

export class SharedResource extends ExternalResource {
  readonly kind: 'mutex' | 'rwlock' | 'semaphore';
  readonly capacity: number | undefined;

  constructor(
    rt: Runtime,
    id: string,
    readonly opts: SharedResourceOptions = {},
  ) {
    super(rt, id);
    if (opts.mode !== undefined && opts.mode !== 'shared' && opts.mode !== 'exclusive')
      throw new TypeError(`resource mode must be 'shared' or 'exclusive', got ${String(opts.mode)}`);
    if (opts.capacity !== undefined && (!Number.isInteger(opts.capacity) || opts.capacity < 1))
      throw new RangeError(`resource capacity must be a positive integer, got ${opts.capacity}`);
    if (opts.capacity !== undefined && opts.mode === 'shared') throw new TypeError('a resource has a capacity or a shared mode, not both');
    this.kind = opts.capacity !== undefined ? 'semaphore' : opts.mode === 'shared' ? 'rwlock' : 'mutex';
    this.capacity = opts.capacity;
  }

  /** a counted resource: taking it again while holding it is a nested checkout */
  get counted(): boolean {
    return this.kind === 'semaphore';
  }

  declaration(): ResourceEvent {
    // the daemon cannot know the order of waits arriving from different clients: never FIFO
    const ev: ResourceEvent = { type: 'resource', resource: this.id, kind: this.kind, scope: 'global', fifo: false };
    if (this.capacity !== undefined) ev.capacity = this.capacity;
    if (this.opts.label !== undefined) ev.label = this.opts.label;
    if (this.opts.class !== undefined) ev.class = this.opts.class;
    return ev;
  }

  acquire<T>(fn: (signal: AbortSignal) => T | Promise<T>, opts?: ResourceAcquireOptions<T>): Promise<ResourceHeld<T>> {
    let shape: { mode?: LockMode; units?: number };
    try {
      shape = this.shapeOf(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return acquireWith(this, SharedResource.prototype.acquire, fn, opts, shape);
  }

  private shapeOf<T>(opts: ResourceAcquireOptions<T> | undefined): { mode?: LockMode; units?: number } {
    if (this.kind === 'rwlock') {
      const mode = opts?.mode ?? 'exclusive';
      if (mode !== 'shared' && mode !== 'exclusive') throw new TypeError(`acquire mode must be 'shared' or 'exclusive', got ${String(mode)}`);
      return { mode };
    }
    if (opts?.mode !== undefined) throw new TypeError(`resource '${this.id}' was not declared { mode: 'shared' }: acquire takes no mode`);
    if (this.kind === 'semaphore') {
      const units = opts?.units ?? 1;
      if (!Number.isInteger(units) || units < 1 || units > (this.capacity as number))
        throw new RangeError(`resource '${this.id}' has ${this.capacity} units; ${units} requested`);
      return { units };
    }
    if (opts?.units !== undefined) throw new TypeError(`resource '${this.id}' has no capacity: acquire takes no units`);
    return {};
  }
}

/**
 * The report-only acquire shared by dd.resource() and dd.pool(): run fn(signal) as the real
 * acquire, report its wait and hold, give back what arrives after the wait ended.
 */
export function acquireWith<T>(
  res: ExternalResource,
  caller: Function,
  fn: (signal: AbortSignal) => T | Promise<T>,
  opts: ResourceAcquireOptions<T> | undefined,
  shape?: { mode?: LockMode; units?: number },
): Promise<ExternalHeld<T>> {
  const signal = opts?.signal;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const wait = res.beginWait<T>(caller, opts, shape);
  let pending: Promise<T>;
  try {
    pending = Promise.resolve(fn(wait.signal));
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(
    (value) => {
      if (wait.grant(value, opts?.release) === null) giveBack(res, value, opts?.dispose);
    },
    (err: unknown) => wait.fail(err),
  );
  return wait.promise;
}

function giveBack<T>(res: ExternalResource, value: T, dispose: ((value: T) => void | Promise<void>) | undefined): void {
  const logger = res.logger;
  if (dispose === undefined) {
    logger.warn(`resource ${res.id} was acquired after its wait ended; pass { dispose } to give it back`);
    return;
  }
  const warn = (err: unknown) => logger.warn(`dispose of resource ${res.id} failed`, err);
  try {
    Promise.resolve(dispose(value)).catch(warn);
  } catch (err) {
    warn(err);
  }
}
