// A shared, cross-process resource (a distributed lock, a database advisory lock) that the SDK
// does not implement, only reports: acquire(fn) reports a wait while fn takes the real lock and a
// hold once it has it. If the daemon picks this wait as a deadlock victim, the signal given to fn
// aborts (reason: the DeadlockError) and acquire rejects at once; a lock that still arrives later
// is handed to `dispose` so it is not leaked.
import type { ResourceEvent } from '@deadlockd/proto';
import { abortReason, notHeldError } from './errors.js';
import type { Held } from './held.js';
import { Rec, type ReportedResource } from './model.js';
import type { Runtime } from './runtime.js';
import { Waiter, type WaitOptions } from './waiter.js';

export interface ResourceAcquireOptions<T> extends WaitOptions {
  /** gives back a lock that fn delivered after the wait had been aborted (deadlock, timeout, signal) */
  dispose?: (value: T) => void | Promise<void>;
}

export interface ResourceHeld<T> extends Held {
  /** what fn resolved to */
  readonly value: T;
}

export class SharedResource implements ReportedResource {
  declaredEpoch = -1;

  constructor(
    private readonly rt: Runtime,
    readonly id: string,
  ) {}

  get name(): string {
    return this.id;
  }

  declaration(): ResourceEvent {
    // the daemon cannot know the order of waits arriving from different clients: never FIFO
    return { type: 'resource', resource: this.id, kind: 'mutex', scope: 'global', fifo: false };
  }

  acquire<T>(fn: (signal: AbortSignal) => T | Promise<T>, opts?: ResourceAcquireOptions<T>): Promise<ResourceHeld<T>> {
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const rt = this.rt;
    const rec = new Rec(
      'wait', rt.owners.current(), this, null, undefined, undefined,
      rt.newWaitId(), Date.now(), performance.now(), rt.captureSite(SharedResource.prototype.acquire),
    );
    rt.reporter.begin(rec);
    const controller = new AbortController();
    const waiter = new Waiter<ResourceHeld<T>>(rt, rec, `resource ${this.id}`, opts, (_w, err) => controller.abort(err));
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(fn(controller.signal));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (value) => {
        if (!waiter.settled) waiter.grant(new SharedHeld(rt, this.id, rec, value));
        else this.giveBack(value, opts?.dispose);
      },
      (err: unknown) => waiter.cancel('error', err),
    );
    return waiter.promise;
  }

  private giveBack<T>(value: T, dispose: ((value: T) => void | Promise<void>) | undefined): void {
    if (dispose === undefined) {
      this.rt.logger.warn(`resource ${this.id} was acquired after its wait ended; pass { dispose } to give it back`);
      return;
    }
    const warn = (err: unknown) => this.rt.logger.warn(`dispose of resource ${this.id} failed`, err);
    try {
      Promise.resolve(dispose(value)).catch(warn);
    } catch (err) {
      warn(err);
    }
  }
}

class SharedHeld<T> implements ResourceHeld<T> {
  private done = false;

  constructor(
    private readonly rt: Runtime,
    readonly resource: string,
    private readonly rec: Rec,
    readonly value: T,
  ) {}

  get released(): boolean {
    return this.done;
  }

  /** Report the release (the application releases the real lock itself). */
  release(): void {
    if (this.done) throw notHeldError(this.resource);
    this.done = true;
    this.rt.reporter.ended(this.rec);
  }
}
