// Owners follow the async context: `task(name, fn)` runs fn with its own owner in an
// AsyncLocalStorage scope; code outside any task uses the implicit per-process owner 'main'.
import { AsyncLocalStorage } from 'node:async_hooks';
import { MAX_OWNER_ATTRIBUTES, type OwnerAttributes } from '@deadlockd/proto';
import { Owner } from './model.js';
import { currentRetry } from './retry.js';
import { activeSpan, type Tracing } from './tracing.js';

export interface TaskOptions {
  /** higher = keep alive; the daemon picks victims from the lowest priority (default 0) */
  priority?: number;
  /** false: this task's waits are never aborted, only reported (default true) */
  abortable?: boolean;
  /**
   * What identifies this piece of work to you (request id, tenant, order id), shown in every
   * deadlock report and long-wait line it is in: at most 32 keys of 1-64 characters, values
   * strings (at most 256 characters), finite numbers or booleans.
   */
  attributes?: Record<string, string | number | boolean>;
}

/** A task's attributes, checked against the wire's bounds (a clear TypeError here, not a BAD_FRAME later). */
function checkAttributes(a: unknown): Readonly<OwnerAttributes> | undefined {
  if (a === undefined) return undefined;
  if (a === null || typeof a !== 'object' || Array.isArray(a)) throw new TypeError('task attributes must be a plain object');
  const entries = Object.entries(a as Record<string, unknown>);
  if (entries.length > MAX_OWNER_ATTRIBUTES) throw new TypeError(`a task has at most ${MAX_OWNER_ATTRIBUTES} attributes, got ${entries.length}`);
  if (entries.length === 0) return undefined;
  const out: OwnerAttributes = {};
  for (const [k, v] of entries) {
    if (k.length < 1 || k.length > 64) throw new TypeError(`a task attribute name has 1 to 64 characters: '${k.slice(0, 80)}'`);
    const ok = (typeof v === 'string' && v.length <= 256) || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
    if (!ok) throw new TypeError(`task attribute '${k}' must be a string of at most 256 characters, a finite number or a boolean`);
    out[k] = v as string | number | boolean;
  }
  return Object.freeze(out);
}

export class Owners {
  readonly main = new Owner({ id: 'main', name: 'main', priority: 0, abortable: true, startedAt: Date.now() });
  private readonly als = new AsyncLocalStorage<Owner>();
  private nextId = 0;
  /** the app's OpenTelemetry API, set by connect() when it has one */
  tracing: Tracing | null = null;

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
    const attributes = checkAttributes(opts?.attributes);
    return new Owner({ id: `t${++this.nextId}`, name, priority, abortable: opts?.abortable ?? true, startedAt, attributes, span: activeSpan(this.tracing) });
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
