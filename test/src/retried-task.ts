// App code the way a user writes it: retryOnDeadlock around a whole task, so
// an aborted attempt has released everything before the next one starts.
// The tally counts every DeadlockError an attempt failed with (the app's
// view of the daemon's aborts); attempt numbers let scenario code meet at a
// barrier on the first attempt only (a retry must not wait for owners that
// have already finished).
import { DeadlockError, type Client } from '@deadlockd/client';

export class DeadlockTally {
  /** distinct errors (the same error may reach the app through a join and its task) */
  private readonly seen = new Set<DeadlockError>();

  note(e: unknown): void {
    if (e instanceof DeadlockError) this.seen.add(e);
  }

  get count(): number {
    return this.seen.size;
  }

  get errors(): DeadlockError[] {
    return [...this.seen];
  }

  /** distinct deadlock ids among the errors */
  get deadlockIds(): string[] {
    return [...new Set(this.errors.map((e) => e.deadlockId))];
  }

  describe(): string {
    return this.errors.map((e) => e.message).join('\n---\n');
  }
}

/**
 * Runs `body(attempt)` as task `name` under retryOnDeadlock; every
 * DeadlockError that ends an attempt is noted in `tally`. Resolves with the
 * body's result of the attempt that completed.
 */
export function retriedTask<T>(dd: Client, tally: DeadlockTally, name: string, body: (attempt: number) => Promise<T>): Promise<T> {
  let attempt = 0;
  return dd.retryOnDeadlock(() => {
    const n = attempt++;
    return dd.task(n === 0 ? name : `${name} (retry ${n})`, () => body(n)).catch((e: unknown) => {
      tally.note(e);
      throw e;
    });
  });
}

/** A promise with its resolve function, for sequencing the steps of a scenario. */
export function signal<T = void>(): { promise: Promise<T>; fire: (v: T) => void } {
  let fire!: (v: T) => void;
  const promise = new Promise<T>((resolve) => (fire = resolve));
  return { promise, fire };
}
