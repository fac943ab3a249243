// The shared machinery of the SDK's process-local primitives: a strict FIFO queue of waiters,
// holds recorded as Rec objects, and reporting through the client's Reporter.
import '../dispose.js';
import type { LockMode, ResourceEvent } from '@deadlockd/proto';
import { abortReason, notHeldError } from '../errors.js';
import type { Held } from '../held.js';
import { Rec, type Owner, type ReportedResource } from '../model.js';
import type { Runtime } from '../runtime.js';
import { Waiter, type WaitOptions } from '../waiter.js';

export interface Request {
  mode: LockMode | undefined;
  units: number | undefined;
}

export abstract class QueuedPrimitive implements ReportedResource {
  declaredEpoch = -1;
  handle = -1;
  /** pending waiters in arrival order (a Set: O(1) removal of a cancelled waiter) */
  protected readonly queue = new Set<Waiter<Held>>();

  constructor(
    protected readonly rt: Runtime,
    readonly id: string,
    /** re-acquisitions by the holding owner are granted at once and counted (mutex, rwlock) */
    readonly reentrant = false,
    /** lockdep-style lock class for the daemon's hazard analysis */
    readonly lockClass?: string,
  ) {}

  /** what every declaration of this primitive adds: reentrancy and class, when set */
  protected declarationExtras(): { reentrant?: true; class?: string } {
    return { ...(this.reentrant ? { reentrant: true as const } : {}), ...(this.lockClass !== undefined ? { class: this.lockClass } : {}) };
  }

  /** Is `req` by `owner` a re-acquisition this reentrant primitive grants at once? */
  protected isReentry(_owner: Owner, _req: Request): boolean {
    return false;
  }

  get name(): string {
    return this.id;
  }

  /** how many acquires are waiting */
  get waiting(): number {
    return this.queue.size;
  }

  abstract declaration(): ResourceEvent;
  /** can `owner` take `req` right now, given the current holders (queue order is the caller's concern)? */
  protected abstract compatible(owner: Owner, req: Request): boolean;
  /** record a granted hold in the primitive's state */
  protected abstract take(rec: Rec): void;
  /** remove a hold from the primitive's state */
  protected abstract give(rec: Rec): void;

  /** May `req` skip the queue? Default: only when nobody waits (strict FIFO, no barging). */
  protected grantNow(owner: Owner, req: Request): boolean {
    return this.queue.size === 0 && this.compatible(owner, req);
  }

  /** Where a new waiter goes; rwlock upgrades override this to jump ahead. */
  protected enqueue(w: Waiter<Held>, _req: Request): void {
    this.queue.add(w);
  }

  protected dequeue(w: Waiter<Held>): void {
    this.queue.delete(w);
  }

  /** The waiters in grant order. */
  protected *pending(): Iterable<Waiter<Held>> {
    yield* this.queue;
  }

  protected acquireRequest(req: Request, opts: WaitOptions | undefined, caller: Function): Promise<Held> {
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const rt = this.rt;
    const owner = rt.owners.current();
    const reentry = this.isReentry(owner, req);
    // a re-entry is no lock-order fact (taking what you hold cannot deadlock a reentrant lock)
    if (owner.held.length > 0 && !reentry) rt.order.asked(owner, this, caller, req.mode);
    if (reentry || this.grantNow(owner, req)) {
      // the cheap path: no stack, no wait id; reported only if it outlives reportAfterMs
      const rec = new Rec({ kind: 'hold', owner, resource: this, mode: req.mode, units: req.units });
      this.take(rec);
      rt.order.took(rec);
      rt.reporter.begin(rec);
      return Promise.resolve(this.held(rec));
    }
    const rec = new Rec({
      kind: 'wait', owner, resource: this, mode: req.mode, units: req.units, waitId: rt.newWaitId(), site: rt.captureSite(caller),
    });
    rt.reporter.begin(rec);
    const w = new Waiter<Held>(rt, rec, `${this.describe()}`, opts, (x) => {
      this.dequeue(x);
      this.grantWaiting();
    });
    this.enqueue(w, req);
    return w.promise;
  }

  /**
   * The hold at once if it can be granted now without waiting, else null. Nothing waits, so
   * nothing is reported as a wait, and it is no lock-order fact (a try cannot block, as lockdep
   * treats trylock); what is taken while holding it is. Like the primitives' acquire it never
   * barges: with acquires queued it is null even when the units are free (FIFO stays FIFO).
   */
  protected tryRequest(req: Request): Held | null {
    const owner = this.rt.owners.current();
    if (!this.isReentry(owner, req) && !this.grantNow(owner, req)) return null;
    const rec = new Rec({ kind: 'hold', owner, resource: this, mode: req.mode, units: req.units });
    this.take(rec);
    this.rt.order.took(rec);
    this.rt.reporter.begin(rec);
    return this.held(rec);
  }

  /** fn under the hold `acquiring` resolves to; released when fn settles, however it settles. */
  protected async runHolding<T>(acquiring: Promise<Held>, fn: () => T | Promise<T>): Promise<T> {
    const h = await acquiring;
    try {
      return await fn();
    } finally {
      if (!h.released) h.release();
    }
  }

  /**
   * The daemon's `reorder` frame: these pending waits (by wait id) go to the front of the
   * queue, in this order, to resolve a deadlock without an abort; ids not pending here are
   * skipped. Then grant from the head as usual. Returns how many waits moved.
   */
  moveToFront(waitIds: readonly string[]): number {
    const byId = new Map<string, Waiter<Held>>();
    for (const w of this.queue) if (w.rec.waitId !== undefined) byId.set(w.rec.waitId, w);
    const moved: Waiter<Held>[] = [];
    for (const id of waitIds) {
      const w = byId.get(id);
      if (w !== undefined && !moved.includes(w)) moved.push(w);
    }
    if (moved.length === 0) return 0;
    const rest = [...this.queue].filter((w) => !moved.includes(w));
    this.queue.clear();
    for (const w of moved) this.queue.add(w);
    for (const w of rest) this.queue.add(w);
    this.grantWaiting();
    return moved.length;
  }

  /** Grant waiters from the head of the queue while they fit; stop at the first that does not (FIFO). */
  protected grantWaiting(): void {
    if (this.waiting === 0) return; // every uncontended release: no generator to allocate
    for (const w of this.pending()) {
      const rec = w.rec;
      if (!this.compatible(rec.owner, rec)) return;
      this.dequeue(w);
      this.take(rec);
      this.rt.order.took(rec);
      w.grant(this.held(rec));
    }
  }

  protected describe(): string {
    return `${this.declaration().kind} ${this.id}`;
  }

  private held(rec: Rec): Held {
    return new PrimitiveHeld(this, rec);
  }

  /** @internal called once per hold by its Held */
  releaseHold(rec: Rec): void {
    this.give(rec);
    this.rt.order.gave(rec);
    this.reportRelease(rec);
    this.grantWaiting();
  }

  /** Tell the reporter a hold ended (the rwlock refines this for upgrades). */
  protected reportRelease(rec: Rec): void {
    this.rt.reporter.ended(rec);
  }
}

/** The Held of a local primitive (a class rather than a closure: one small object per acquire). */
class PrimitiveHeld implements Held {
  private done = false;

  constructor(
    private readonly prim: QueuedPrimitive,
    private readonly rec: Rec,
  ) {}

  get resource(): string {
    return this.prim.id;
  }

  get released(): boolean {
    return this.done;
  }

  release(): void {
    if (this.done) throw notHeldError(this.prim.id);
    this.done = true;
    this.prim.releaseHold(this.rec);
  }

  [Symbol.dispose](): void {
    if (!this.done) this.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this[Symbol.dispose]();
    return Promise.resolve();
  }
}
