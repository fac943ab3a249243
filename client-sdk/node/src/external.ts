// Report-only resources: locks and pools that live outside the SDK (a distributed lock, a
// PostgreSQL advisory lock, a pg connection pool). The SDK does not grant them; it reports a wait
// while the real acquire is pending and a hold once it succeeds. If the daemon picks the wait as a
// deadlock victim (or its timeout/signal fires), the wait ends at once and `signal` aborts with the
// reason, so the adapter can withdraw the real request; something that still arrives after that
// must be given back by the adapter (`grant()` returns null then).
import './dispose.js';
import type { LockMode, ResourceEvent } from '@deadlockd/proto';
import { abortReason, notHeldError } from './errors.js';
import type { Held } from './held.js';
import type { Logger } from './logger.js';
import { Rec, type ReportedResource } from './model.js';
import type { Runtime } from './runtime.js';
import { Waiter, type WaitOptions } from './waiter.js';

export abstract class ExternalResource implements ReportedResource {
  declaredEpoch = -1;
  handle = -1;

  constructor(
    protected readonly rt: Runtime,
    readonly id: string,
  ) {}

  get name(): string {
    return this.id;
  }

  /** @internal the client's logger (adapters warn through it) */
  get logger(): Logger {
    return this.rt.logger;
  }

  abstract declaration(): ResourceEvent;

  /** units one acquire takes (a pool checkout: 1), or undefined for a lock */
  protected get unitsPerAcquire(): number | undefined {
    return undefined;
  }

  /**
   * @internal Begin a reported wait for the real resource; the caller starts the real acquire
   * right after, in the same tick (so queue order here is the real queue order), and settles it
   * with `grant()` or `fail()`. `caller` is the function whose caller is the reported call site.
   * Throws the signal's reason if `opts.signal` is already aborted.
   */
  beginWait<T>(caller: Function, opts: WaitOptions | undefined, shape?: { mode?: LockMode; units?: number }): ExternalWait<T> {
    const signal = opts?.signal;
    if (signal?.aborted) throw abortReason(signal);
    const rt = this.rt;
    const owner = rt.owners.current();
    if (owner.held.length > 0) rt.order.asked(owner, this, caller, shape?.mode);
    const rec = new Rec({
      kind: 'wait', owner, resource: this, units: shape?.units ?? this.unitsPerAcquire, mode: shape?.mode, waitId: rt.newWaitId(), site: rt.captureSite(caller),
    });
    rt.reporter.begin(rec);
    return new ExternalWait<T>(rt, this, rec, opts);
  }
}

/** One pending acquire of an external resource. */
export class ExternalWait<T> {
  /** aborts when the wait ends without a grant (deadlock victim, timeout, caller's signal); reason = the error */
  readonly signal: AbortSignal;
  /** settles with the Held at grant, or rejects at once when the wait ends otherwise */
  readonly promise: Promise<ExternalHeld<T>>;
  private readonly waiter: Waiter<ExternalHeld<T>>;

  constructor(
    private readonly rt: Runtime,
    private readonly res: ExternalResource,
    private readonly rec: Rec,
    opts: WaitOptions | undefined,
  ) {
    const controller = new AbortController();
    this.signal = controller.signal;
    this.waiter = new Waiter<ExternalHeld<T>>(rt, rec, `${res.declaration().kind} ${res.id}`, opts, (_w, err) => controller.abort(err));
    this.promise = this.waiter.promise;
  }

  /** The real resource was acquired: report the hold. Null if the wait had already ended: give `value` back. */
  grant(value: T, giveBack?: (value: T) => void | Promise<void>): ExternalHeld<T> | null {
    if (this.waiter.settled) return null;
    const held = new ExternalHeld<T>(this.rt, this.res.id, this.rec, value, giveBack);
    this.rt.order.took(this.rec);
    this.waiter.grant(held);
    return held;
  }

  /** The real acquire failed: the wait ends (reported as a cancel) and `promise` rejects with `err`. */
  fail(err: unknown): void {
    this.waiter.cancel('error', err);
  }
}

/**
 * A hold of an external resource: `release()` only reports (the adapter releases the real thing).
 * Disposing it (`await using`) first gives the real thing back through the acquire's `release`
 * option when one was given, then reports; without one it only reports, like release().
 */
export class ExternalHeld<T> implements Held {
  private done = false;

  constructor(
    private readonly rt: Runtime,
    readonly resource: string,
    private readonly rec: Rec,
    readonly value: T,
    private readonly giveBack?: (value: T) => void | Promise<void>,
  ) {}

  get released(): boolean {
    return this.done;
  }

  release(): void {
    if (this.done) throw notHeldError(this.resource);
    this.done = true;
    this.rt.order.gave(this.rec);
    this.rt.reporter.ended(this.rec);
  }

  /** Synchronous: starts the acquire's `release` (its rejection is logged), then reports. Prefer `await using`. */
  [Symbol.dispose](): void {
    if (this.done) return;
    if (this.giveBack !== undefined) {
      const warn = (err: unknown) => this.rt.logger.warn(`release of resource ${this.resource} failed`, err);
      try {
        Promise.resolve(this.giveBack(this.value)).catch(warn);
      } catch (err) {
        warn(err);
      }
    }
    this.release();
  }

  /** The acquire's `release` (awaited; the real lock first, so a report never shows a free lock held), then the report. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.done) return;
    try {
      if (this.giveBack !== undefined) await this.giveBack(this.value);
    } finally {
      if (!this.done) this.release();
    }
  }
}
