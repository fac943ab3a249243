// A counting semaphore with `capacity` units, strict FIFO: a request for many units at the head
// of the queue is not overtaken by smaller ones behind it.
import type { ResourceEvent } from '@deadlockd/proto';
import type { Held } from '../held.js';
import type { Owner, Rec } from '../model.js';
import type { Runtime } from '../runtime.js';
import type { WaitOptions } from '../waiter.js';
import { QueuedPrimitive, type Request } from './queue.js';

export interface SemaphoreAcquireOptions extends WaitOptions {
  /** units to take (default 1) */
  units?: number;
}

export class Semaphore extends QueuedPrimitive {
  readonly counted = true;
  private cap: number;
  private used = 0;

  constructor(rt: Runtime, id: string, capacity: number) {
    super(rt, id);
    checkCapacity(capacity);
    this.cap = capacity;
  }

  get capacity(): number {
    return this.cap;
  }

  /** units currently held */
  get inUse(): number {
    return this.used;
  }

  get available(): number {
    return Math.max(0, this.cap - this.used);
  }

  acquire(opts?: SemaphoreAcquireOptions): Promise<Held> {
    const units = opts?.units ?? 1;
    try {
      checkUnits(units, this.cap, this.id);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.acquireRequest(units === 1 ? ONE_UNIT : { mode: undefined, units }, opts, Semaphore.prototype.acquire);
  }

  /** `units` (default 1) now if they are free and nobody queues, else null; never waits. */
  tryAcquire(opts?: { units?: number }): Held | null {
    const units = opts?.units ?? 1;
    checkUnits(units, this.cap, this.id);
    return this.tryRequest(units === 1 ? ONE_UNIT : { mode: undefined, units });
  }

  /** fn while holding `units` (default 1); released when fn settles. */
  runExclusive<T>(fn: () => T | Promise<T>, opts?: SemaphoreAcquireOptions): Promise<T> {
    return this.runHolding(this.acquire(opts), fn);
  }

  /** Change the capacity. Reported: a decrease can create a deadlock. Holders keep what they have. */
  setCapacity(capacity: number): void {
    checkCapacity(capacity);
    if (capacity === this.cap) return;
    this.cap = capacity;
    this.rt.reporter.resourceChanged(this);
    this.grantWaiting();
  }

  declaration(): ResourceEvent {
    return { type: 'resource', resource: this.id, kind: 'semaphore', scope: 'local', capacity: this.cap, fifo: true };
  }

  protected compatible(_owner: Owner, req: Request): boolean {
    return this.used + (req.units ?? 1) <= this.cap;
  }

  protected take(rec: Rec): void {
    this.used += rec.units ?? 1;
  }

  protected give(rec: Rec): void {
    this.used -= rec.units ?? 1;
  }
}

function checkUnits(units: number, capacity: number, id: string): void {
  if (!Number.isInteger(units) || units < 1) throw new RangeError(`units must be a positive integer, got ${units}`);
  if (units > capacity) throw new RangeError(`cannot take ${units} units of semaphore ${id} (capacity ${capacity})`);
}

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`semaphore capacity must be a positive integer, got ${capacity}`);
  }
}

/** the usual request, shared (a request is never changed) */
const ONE_UNIT: Request = { mode: undefined, units: 1 };
