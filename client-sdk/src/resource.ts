// A shared, cross-process resource (a distributed lock, a database advisory lock) that the SDK
// does not implement, only reports: acquire(fn) reports a wait while fn takes the real lock and a
// hold once it has it. If the daemon picks this wait as a deadlock victim, the signal given to fn
// aborts (reason: the DeadlockError) and acquire rejects at once; a lock that still arrives later
// is handed to `dispose` so it is not leaked.
import type { ResourceEvent } from '@deadlockd/proto';
import { abortReason } from './errors.js';
import { ExternalResource, type ExternalHeld } from './external.js';
import type { Held } from './held.js';
import type { WaitOptions } from './waiter.js';

export interface ResourceAcquireOptions<T> extends WaitOptions {
  /** gives back a lock that fn delivered after the wait had been aborted (deadlock, timeout, signal) */
  dispose?: (value: T) => void | Promise<void>;
}

export interface ResourceHeld<T> extends Held {
  /** what fn resolved to */
  readonly value: T;
}

export class SharedResource extends ExternalResource {
  declaration(): ResourceEvent {
    // the daemon cannot know the order of waits arriving from different clients: never FIFO
    return { type: 'resource', resource: this.id, kind: 'mutex', scope: 'global', fifo: false };
  }

  acquire<T>(fn: (signal: AbortSignal) => T | Promise<T>, opts?: ResourceAcquireOptions<T>): Promise<ResourceHeld<T>> {
    return acquireWith(this, SharedResource.prototype.acquire, fn, opts);
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
): Promise<ExternalHeld<T>> {
  const signal = opts?.signal;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const wait = res.beginWait<T>(caller, opts);
  let pending: Promise<T>;
  try {
    pending = Promise.resolve(fn(wait.signal));
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(
    (value) => {
      if (wait.grant(value) === null) giveBack(res, value, opts?.dispose);
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
