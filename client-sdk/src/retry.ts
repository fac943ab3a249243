// Retry a unit of work that the daemon aborted as a deadlock victim, like a database client
// retrying a transaction. Any other error is passed through at once.
import { DEADLOCK, DeadlockError } from './errors.js';

export interface RetryOptions {
  /** retries after the first attempt (default 10) */
  retries?: number;
  /** base pause before a retry, grown linearly per attempt and jittered (default 5) */
  backoffMs?: number;
}

export function isDeadlockError(err: unknown): err is DeadlockError {
  if (err instanceof DeadlockError) return true;
  // another copy of the SDK in the same process
  return err instanceof Error && err.name === 'DeadlockError' && (err as { code?: unknown }).code === DEADLOCK;
}

export async function retryOnDeadlock<T>(fn: () => T | Promise<T>, opts?: RetryOptions): Promise<T> {
  const retries = opts?.retries ?? 10;
  const backoffMs = opts?.backoffMs ?? 5;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isDeadlockError(err) || attempt >= retries) throw err;
      // jitter so the same owners do not collide again in lockstep
      const delay = backoffMs * (attempt + 1) * (0.5 + Math.random());
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    }
  }
}
