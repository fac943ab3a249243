// One pending wait: settles exactly once (grant, completion, timeout, signal, deadlock abort) and
// always cleans up its timer, its signal listener and its entry in the pending-wait map.
import { abortReason, AcquireTimeoutError } from './errors.js';
import type { Rec } from './model.js';
import type { PendingWait, Runtime } from './runtime.js';
import { activeSpan } from './tracing.js';

export interface WaitOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

export class Waiter<T> implements PendingWait {
  readonly promise: Promise<T>;
  settled = false;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (err: unknown) => void;
  private timer: NodeJS.Timeout | null = null;
  private readonly signal: AbortSignal | undefined;
  private readonly onSignal: (() => void) | null = null;

  /**
   * @param leave removes the waiter from its queue (and lets the queue grant whoever can now go);
   *              called after the reporter logged the cancel, so the daemon sees cancel before grants.
   */
  constructor(
    private readonly rt: Runtime,
    readonly rec: Rec,
    what: string,
    opts: WaitOptions | undefined,
    private readonly leave: (w: Waiter<T>, err: unknown) => void,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    if (rec.waitId !== undefined) rt.waits.set(rec.waitId, this);
    // only contended waits get here: the one span lookup per wait costs nothing on the fast path
    rec.span = activeSpan(rt.owners.tracing);
    const timeoutMs = opts?.timeoutMs;
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      this.timer = setTimeout(
        () => this.cancel('timeout', new AcquireTimeoutError(what, timeoutMs)),
        Math.max(0, timeoutMs),
      );
    }
    const signal = opts?.signal;
    if (signal !== undefined) {
      this.signal = signal;
      this.onSignal = () => this.cancel('signal', abortReason(signal));
      signal.addEventListener('abort', this.onSignal, { once: true });
    }
  }

  /** Granted: the wait becomes a hold. */
  grant(value: T): void {
    if (!this.finish()) return;
    this.rt.reporter.granted(this.rec);
    this.resolveFn(value);
  }

  /** Ended with a result that is not a hold (a joined task finished): the daemon needs no event. */
  complete(value: T): void {
    if (!this.finish()) return;
    this.rt.reporter.untrack(this.rec);
    this.resolveFn(value);
  }

  /** Ended with the joined task's failure: no event either. */
  fail(err: unknown): void {
    if (!this.finish()) return;
    this.rt.reporter.untrack(this.rec);
    this.rejectFn(err);
  }

  abort(err: Error): void {
    this.cancel('deadlock', err);
  }

  cancel(reason: 'timeout' | 'signal' | 'deadlock' | 'error', err: unknown): void {
    if (!this.finish()) return;
    this.rt.reporter.ended(this.rec, reason);
    this.leave(this, err);
    this.rejectFn(err);
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.signal !== undefined && this.onSignal !== null) this.signal.removeEventListener('abort', this.onSignal);
    if (this.rec.waitId !== undefined) this.rt.waits.delete(this.rec.waitId);
    return true;
  }
}
