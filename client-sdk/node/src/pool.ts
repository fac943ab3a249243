// A pool that lives outside the SDK (a pg.Pool, generic-pool, a worker pool) reported as a
// counted resource: each checkout is one unit of `capacity`, owned by the current task, and the
// pool grants in FIFO order (declare `fifo: false` if yours does not). Checking out a second unit
// while holding one is a nested checkout, reported as a hazard the first time it happens.
import type { ResourceEvent } from '@deadlockd/proto';
import { ExternalResource, type ExternalHeld } from './external.js';
import { acquireWith, type ResourceAcquireOptions } from './resource.js';
import type { Runtime } from './runtime.js';

export interface PoolOptions {
  /** label shown in deadlock reports, e.g. "pg pool orders-db" */
  label?: string;
  /** the real pool grants checkouts in request order (default true) */
  fifo?: boolean;
}

export class ExternalPool extends ExternalResource {
  readonly counted = true;
  private cap: number;

  constructor(
    rt: Runtime,
    id: string,
    capacity: number,
    private readonly opts: PoolOptions,
  ) {
    super(rt, id);
    checkCapacity(capacity);
    this.cap = capacity;
  }

  get capacity(): number {
    return this.cap;
  }

  /** The real pool's size changed: reported, a decrease can create a deadlock. */
  setCapacity(capacity: number): void {
    checkCapacity(capacity);
    if (capacity === this.cap) return;
    this.cap = capacity;
    this.rt.reporter.resourceChanged(this);
  }

  declaration(): ResourceEvent {
    const ev: ResourceEvent = {
      type: 'resource', resource: this.id, kind: 'semaphore', scope: 'local', capacity: this.cap, fifo: this.opts.fifo ?? true,
    };
    if (this.opts.label !== undefined) ev.label = this.opts.label;
    return ev;
  }

  protected override get unitsPerAcquire(): number {
    return 1;
  }

  /**
   * Check out one unit: fn(signal) does the real checkout. Reported as a wait while fn is
   * pending and as a hold once it resolves; a unit that arrives after the wait ended (deadlock
   * victim, timeout, signal) goes to `dispose`.
   */
  acquire<T>(fn: (signal: AbortSignal) => T | Promise<T>, opts?: ResourceAcquireOptions<T>): Promise<ExternalHeld<T>> {
    return acquireWith(this, ExternalPool.prototype.acquire, fn, opts);
  }
}

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`pool capacity must be a positive integer, got ${capacity}`);
  }
}
