// A FIFO readers-writer lock. Shared holders do not block each other; a shared request queues
// behind a waiting exclusive one (writers are not starved). An owner that holds it shared and asks
// for exclusive is upgrading: it goes ahead of the queue and waits only for the other shared
// holders (two owners upgrading at once is a real deadlock, which the daemon detects).
// While upgraded, the owner holds both modes; each Held is released separately.
//
// The daemon counts an rwlock hold per owner (shared = 1 unit each, exclusive = all units, and
// an upgrade grant turns the owner's hold into exclusive). So the events mirror that: releasing a
// shared hold while the same owner's exclusive hold is known to the daemon sends nothing (it is
// subsumed), and releasing the exclusive hold re-reports the owner's remaining shared holds.
import type { LockMode, ResourceEvent } from '@deadlockd/proto';
import { withoutKey } from '../collections.js';
import type { Held } from '../held.js';
import type { Owner, Rec } from '../model.js';
import type { WaitOptions } from '../waiter.js';
import type { Waiter } from '../waiter.js';
import { QueuedPrimitive, type Request } from './queue.js';

export class RWLock extends QueuedPrimitive {
  private exclusive: Rec | null = null;
  /** re-acquisitions of the exclusive mode by its holder (reentrant only) */
  private readonly exclusiveReentries: Rec[] = [];
  private sharedBy = new Map<Owner, Set<Rec>>();
  private sharedCount = 0;
  /** upgrade requests: granted before the regular queue */
  private readonly upgrades = new Set<Waiter<Held>>();

  override get waiting(): number {
    return this.queue.size + this.upgrades.size;
  }

  /** owners holding it shared (with multiplicity) */
  get readers(): number {
    return this.sharedCount;
  }

  get writeLocked(): boolean {
    return this.exclusive !== null;
  }

  acquire(mode: LockMode, opts?: WaitOptions): Promise<Held> {
    if (mode !== 'shared' && mode !== 'exclusive') {
      return Promise.reject(new TypeError(`rwlock mode must be 'shared' or 'exclusive', got ${String(mode)}`));
    }
    return this.acquireRequest(mode === 'shared' ? SHARED : EXCLUSIVE, opts, RWLock.prototype.acquire);
  }

  /** The lock in `mode` now if that needs no wait (and nobody queues ahead), else null; never waits. */
  tryAcquire(mode: LockMode): Held | null {
    if (mode !== 'shared' && mode !== 'exclusive') throw new TypeError(`rwlock mode must be 'shared' or 'exclusive', got ${String(mode)}`);
    return this.tryRequest(mode === 'shared' ? SHARED : EXCLUSIVE);
  }

  /** fn while holding the lock exclusive (a writer); released when fn settles. */
  runExclusive<T>(fn: () => T | Promise<T>, opts?: WaitOptions): Promise<T> {
    return this.runHolding(this.acquireRequest(EXCLUSIVE, opts, RWLock.prototype.runExclusive), fn);
  }

  /** fn while holding the lock shared (a reader); released when fn settles. */
  runShared<T>(fn: () => T | Promise<T>, opts?: WaitOptions): Promise<T> {
    return this.runHolding(this.acquireRequest(SHARED, opts, RWLock.prototype.runShared), fn);
  }

  declaration(): ResourceEvent {
    return { type: 'resource', resource: this.id, kind: 'rwlock', scope: 'local', fifo: true, ...this.declarationExtras() };
  }

  /**
   * Reentrant (Java's ReentrantReadWriteLock): the writer may take either mode again, a reader
   * may take shared again, both at once and past queued writers. A reader asking for exclusive is
   * an upgrade, not a re-entry: it waits for the other readers.
   */
  protected override isReentry(owner: Owner, req: Request): boolean {
    if (!this.reentrant) return false;
    if (this.exclusive !== null) return this.exclusive.owner === owner;
    return req.mode === 'shared' && this.sharedBy.has(owner);
  }

  protected override grantNow(owner: Owner, req: Request): boolean {
    if (this.isUpgrade(owner, req)) return this.upgrades.size === 0 && this.compatible(owner, req);
    return this.queue.size === 0 && this.upgrades.size === 0 && this.compatible(owner, req);
  }

  protected override enqueue(w: Waiter<Held>, req: Request): void {
    if (this.isUpgrade(w.rec.owner, req)) this.upgrades.add(w);
    else this.queue.add(w);
  }

  protected override dequeue(w: Waiter<Held>): void {
    if (!this.upgrades.delete(w)) this.queue.delete(w);
  }

  protected override *pending(): Iterable<Waiter<Held>> {
    yield* this.upgrades;
    yield* this.queue;
  }

  protected compatible(owner: Owner, req: Request): boolean {
    if (this.isReentry(owner, req)) return true;
    if (this.exclusive !== null) return false;
    if (req.mode === 'shared') return true;
    // exclusive: no shared holder other than the requester itself
    return this.sharedCount - (this.sharedBy.get(owner)?.size ?? 0) === 0;
  }

  protected take(rec: Rec): void {
    if (rec.mode === 'exclusive') {
      if (this.exclusive === null) this.exclusive = rec;
      else this.exclusiveReentries.push(rec);
      return;
    }
    let mine = this.sharedBy.get(rec.owner);
    if (mine === undefined) this.sharedBy.set(rec.owner, (mine = new Set()));
    mine.add(rec);
    this.sharedCount++;
  }

  protected give(rec: Rec): void {
    if (rec.mode === 'exclusive') {
      if (this.exclusive === rec) this.exclusive = this.exclusiveReentries.shift() ?? null;
      else {
        const i = this.exclusiveReentries.indexOf(rec);
        if (i >= 0) this.exclusiveReentries.splice(i, 1);
      }
      return;
    }
    const mine = this.sharedBy.get(rec.owner);
    if (mine === undefined || !mine.has(rec)) return;
    // the owner's last shared hold: its set goes with its entry, neither deleted from (collections.ts)
    if (mine.size === 1) this.sharedBy = withoutKey(this.sharedBy, rec.owner);
    else mine.delete(rec);
    this.sharedCount--;
  }

  protected override reportRelease(rec: Rec): void {
    const reporter = this.rt.reporter;
    // the daemon counts a reentrant rwlock's acquisitions per mode: one release each
    if (this.reentrant) return reporter.ended(rec);
    if (rec.mode === 'shared') {
      const x = this.exclusive;
      if (x !== null && x.owner === rec.owner && reporter.isReportedHold(x)) reporter.untrack(rec);
      else reporter.ended(rec);
      return;
    }
    const known = reporter.isReportedHold(rec);
    reporter.ended(rec);
    if (known) for (const s of this.sharedBy.get(rec.owner) ?? []) reporter.reassertHold(s);
  }

  private isUpgrade(owner: Owner, req: Request): boolean {
    return req.mode === 'exclusive' && this.sharedBy.has(owner);
  }
}

const SHARED: Request = { mode: 'shared', units: undefined };
const EXCLUSIVE: Request = { mode: 'exclusive', units: undefined };
