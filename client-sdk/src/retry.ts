// Retry a unit of work that the daemon aborted as a deadlock victim, like a database client
// retrying a transaction. Any other error is passed through at once.
//
// Retries make progress. Every task created inside retryOnDeadlock (its first attempt or any
// later one) is declared to the daemon with the start time and priority of the FIRST attempt,
// so a retried task stays as old as it was. With the daemon's default victim order (lowest
// priority, then youngest), a deadlock among tasks of equal priority always aborts a younger
// one: the oldest unfinished task is never a victim while another member that holds something
// the deadlock needs may be aborted, and since it ages while newer tasks keep arriving, every
// task eventually becomes the oldest and completes. This is the argument of wait-die and
// wound-wait (Rosenkrantz, Stearns and Lewis, 1978): a timestamp that survives restarts rules
// out starvation. Priorities come first: a task of lower priority may lose every time while
// higher-priority work keeps deadlocking with it.
//
// Between attempts the retry sleeps a jittered, capped, exponential backoff, so owners that just
// collided do not collide again in lockstep.
import { AsyncLocalStorage } from 'node:async_hooks';
import { DEADLOCK, DeadlockError } from './errors.js';

export interface RetryOptions {
  /** retries after the first attempt (default 50) */
  retries?: number;
  /** base pause before the first retry; it doubles per attempt up to `maxBackoffMs` (default 5) */
  backoffMs?: number;
  /** the cap of the pause between attempts (default 500) */
  maxBackoffMs?: number;
  /**
   * how much of each pause is random: the pause is `d * (1 - jitter) + d * jitter * random()`
   * for the capped exponential `d` (0 = no jitter, 1 = "full jitter"; default 0.5)
   */
  jitter?: number;
  /** source of randomness in [0, 1) (default Math.random; tests pass their own) */
  random?: () => number;
}

/** What stays the same across the attempts of one retryOnDeadlock call. */
export interface RetryContext {
  /** start time of the first task created in the first attempt */
  firstStartedAt: number | undefined;
  /** priority of that task */
  priority: number | undefined;
  /** the attempt now running, 0 for the first */
  attempt: number;
}

const contexts = new AsyncLocalStorage<RetryContext>();

/** The retryOnDeadlock call the current code runs in, if any. */
export function currentRetry(): RetryContext | undefined {
  return contexts.getStore();
}

export function isDeadlockError(err: unknown): err is DeadlockError {
  if (err instanceof DeadlockError) return true;
  // another copy of the SDK in the same process
  return err instanceof Error && err.name === 'DeadlockError' && (err as { code?: unknown }).code === DEADLOCK;
}

function option(v: number | undefined, dflt: number, what: string, max = Infinity): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v >= 0) || v > max) throw new TypeError(`retryOnDeadlock: \`${what}\` must be a number in [0, ${max}]`);
  return v;
}

/** The pause before retry number `attempt + 1` (attempt 0 = after the first failure). */
export function backoffDelay(attempt: number, opts?: RetryOptions): number {
  const base = option(opts?.backoffMs, 5, 'backoffMs');
  const cap = option(opts?.maxBackoffMs, 500, 'maxBackoffMs');
  const jitter = option(opts?.jitter, 0.5, 'jitter', 1);
  const d = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return d * (1 - jitter) + d * jitter * (opts?.random ?? Math.random)();
}

export async function retryOnDeadlock<T>(fn: () => T | Promise<T>, opts?: RetryOptions): Promise<T> {
  const retries = option(opts?.retries, 50, 'retries');
  backoffDelay(0, opts); // validates the options before the first attempt
  // A nested retry keeps the outer one's age: it is part of the same unit of work.
  const outer = contexts.getStore();
  const ctx: RetryContext = { firstStartedAt: outer?.firstStartedAt, priority: outer?.priority, attempt: 0 };
  for (let attempt = 0; ; attempt++) {
    ctx.attempt = attempt;
    try {
      return await contexts.run(ctx, fn);
    } catch (err) {
      if (!isDeadlockError(err) || attempt >= retries) throw err;
      const delay = backoffDelay(attempt, opts);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    }
  }
}
