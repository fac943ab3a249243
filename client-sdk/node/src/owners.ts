// Owners follow the async context: `task(name, fn)` runs fn with its own owner in an
// AsyncLocalStorage scope; code outside any task uses the implicit per-process owner 'main'.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Owner } from './model.js';
import { currentRetry } from './retry.js';

export interface TaskOptions {
  /** higher = keep alive; the daemon picks victims from the lowest priority (default 0) */
  priority?: number;
  /** false: this task's waits are never aborted, only reported (default true) */
  abortable?: boolean;
}

export class Owners {
  readonly main = new Owner({ id: 'main', name: 'main', priority: 0, abortable: true, startedAt: Date.now() });
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
    return new Owner({ id: `t${++this.nextId}`, name, priority, abortable: opts?.abortable ?? true, startedAt });
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
