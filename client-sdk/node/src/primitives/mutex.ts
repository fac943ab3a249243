// A FIFO mutex. Not re-entrant by default: a second acquire by the holding owner waits like any
// other, and the daemon reports that self-deadlock (and aborts the wait) instead of it hanging
// forever. With `{ reentrant: true }` it counts re-acquisitions like Java's ReentrantLock: the
// holder's acquire is granted at once, and the mutex is free when every Held was released.
import type { ResourceEvent } from '@deadlockd/proto';
import type { Held } from '../held.js';
import type { Owner, Rec } from '../model.js';
import type { WaitOptions } from '../waiter.js';
import { QueuedPrimitive, type Request } from './queue.js';

export class Mutex extends QueuedPrimitive {
  private holder: Rec | null = null;
  /** re-acquisitions by the holder (reentrant only), oldest first */
  private readonly reentries: Rec[] = [];

  /** how many acquisitions the holder has not released (0 when free) */
  get holdCount(): number {
    return this.holder === null ? 0 : 1 + this.reentries.length;
  }

  get locked(): boolean {
    return this.holder !== null;
  }

  acquire(opts?: WaitOptions): Promise<Held> {
    return this.acquireRequest(NO_SHAPE, opts, Mutex.prototype.acquire);
  }

  /** The mutex now if it is free and nobody queues for it (or a reentrant holder takes it again), else null; never waits. */
  tryAcquire(): Held | null {
    return this.tryRequest(NO_SHAPE);
  }

  /** fn while holding the mutex; released when fn settles (async-mutex's runExclusive). */
  runExclusive<T>(fn: () => T | Promise<T>, opts?: WaitOptions): Promise<T> {
    return this.runHolding(this.acquireRequest(NO_SHAPE, opts, Mutex.prototype.runExclusive), fn);
  }

  declaration(): ResourceEvent {
    return { type: 'resource', resource: this.id, kind: 'mutex', scope: 'local', fifo: true, ...this.declarationExtras() };
  }

  protected override isReentry(owner: Owner, _req: Request): boolean {
    return this.reentrant && this.holder !== null && this.holder.owner === owner;
  }

  protected compatible(owner: Owner, req: Request): boolean {
    return this.holder === null || this.isReentry(owner, req);
  }

  protected take(rec: Rec): void {
    if (this.holder === null) this.holder = rec;
    else this.reentries.push(rec);
  }

  protected give(rec: Rec): void {
    if (this.holder === rec) this.holder = this.reentries.shift() ?? null;
    else {
      const i = this.reentries.indexOf(rec);
      if (i >= 0) this.reentries.splice(i, 1);
    }
  }
}

const NO_SHAPE: Request = { mode: undefined, units: undefined };
