// Owners follow the async context: `task(name, fn)` runs fn with its own owner in an
// AsyncLocalStorage scope; code outside any task uses the implicit per-process owner 'main'.
import { AsyncLocalStorage } from 'node:async_hooks';
import { abortReason } from './errors.js';
import { Owner, Rec } from './model.js';
import { currentRetry } from './retry.js';
import type { Runtime } from './runtime.js';
import { Waiter, type WaitOptions } from './waiter.js';

export interface TaskOptions {
  /** higher = keep alive; the daemon picks victims from the lowest priority (default 0) */
  priority?: number;
  /** false: this task's waits are never aborted, only reported (default true) */
  abortable?: boolean;
}

export class Owners {
  readonly main = new Owner('main', 'main', 0, true, Date.now());
  private readonly als = new AsyncLocalStorage<Owner>();
  private nextId = 0;

  current(): Owner {
    return this.als.getStore() ?? this.main;
  }

  create(name: string, opts: TaskOptions | undefined): Owner {
    // Sub-millisecond start times: tasks started in one burst still have a strict age order.
    let startedAt = performance.timeOrigin + performance.now();
    let priority = opts?.priority;
    // Inside retryOnDeadlock a task keeps the age and priority of the first attempt (retry.ts).
    const retry = currentRetry();
    if (retry) {
      if (retry.firstStartedAt === undefined) retry.firstStartedAt = startedAt;
      else startedAt = retry.firstStartedAt;
      if (retry.priority === undefined) retry.priority = priority ?? 0;
      else priority ??= retry.priority;
    }
    priority ??= 0;
    if (!Number.isInteger(priority)) throw new TypeError('task priority must be an integer');
    return new Owner(`t${++this.nextId}`, name, priority, opts?.abortable ?? true, startedAt);
  }

  /** Run fn with `owner` as the current owner; a synchronous throw becomes a rejection. */
  run<T>(owner: Owner, fn: () => T | Promise<T>): Promise<T> {
    return this.als.run(owner, () => {
      try {
        return Promise.resolve(fn());
      } catch (err) {
        return Promise.reject(err);
      }
    });
  }
}

/** A task started by `spawn()`: others can `join()` it (a reported wait on its completion). */
export class TaskHandle<T> {
  readonly id: string;
  private state: 'running' | 'fulfilled' | 'rejected' = 'running';
  private value: T | undefined;
  private error: unknown;
  private readonly joiners = new Set<Waiter<T>>();

  constructor(
    private readonly rt: Runtime,
    readonly owner: Owner,
    fn: () => T | Promise<T>,
  ) {
    this.id = owner.id;
    rt.owners.run(owner, fn).then(
      (v) => this.settle('fulfilled', v, undefined),
      (e: unknown) => this.settle('rejected', undefined, e),
    );
  }

  get name(): string {
    return this.owner.name;
  }

  get done(): boolean {
    return this.state !== 'running';
  }

  /**
   * Wait for the task to finish; resolves with its result or rejects with its error. While it runs,
   * the caller's owner has a reported wait on this task, so a task waiting for a lock its joiner
   * holds is a deadlock the daemon can see.
   */
  join(opts?: WaitOptions): Promise<T> {
    if (this.state === 'fulfilled') return Promise.resolve(this.value as T);
    if (this.state === 'rejected') return Promise.reject(this.error);
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const rt = this.rt;
    const site = rt.captureSite(TaskHandle.prototype.join);
    const rec = new Rec(
      'wait', rt.owners.current(), null, this.owner, undefined, undefined,
      rt.newWaitId(), Date.now(), performance.now(), site,
    );
    rt.reporter.begin(rec);
    const w = new Waiter<T>(rt, rec, `task ${this.owner.name}`, opts, (x) => this.joiners.delete(x));
    this.joiners.add(w);
    return w.promise;
  }

  private settle(state: 'fulfilled' | 'rejected', value: T | undefined, error: unknown): void {
    this.state = state;
    this.value = value;
    this.error = error;
    // `end` first; the daemon drops the waits on this task itself, so the joins send nothing
    this.rt.reporter.ownerEnded(this.owner);
    const joiners = [...this.joiners];
    this.joiners.clear();
    for (const w of joiners) {
      if (state === 'fulfilled') w.complete(value as T);
      else w.fail(error);
    }
  }
}
