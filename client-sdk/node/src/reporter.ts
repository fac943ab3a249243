// The ordered event log: turns what happens to holds and waits into wire events.
//
// Rules (the daemon relies on them):
// - events go out in the order things happened;
// - a hold/wait is reported only once it is `reportAfterMs` old at a flush; reports that become
//   due at a flush are appended after the events already logged, in the order the holds/waits
//   began (so each FIFO queue reaches the daemon in its real order);
// - except a wait by an owner that holds something (hold-and-wait: the shape that closes a
//   cycle): it makes the next flush run at once and report everything unreported, threshold
//   or not, so a deadlock it closes is not found reportAfterMs late;
// - what was never reported leaves no trace: its release/grant/cancel sends nothing;
// - an owner/resource is declared once per connection, right before its first use;
// - while disconnected nothing is buffered; after (re)connecting a `snapshot` frame replaces the
//   daemon's view of this client with the whole current state.
// How the events are cut into frames is frame-writer.ts's; the flush timers are flush-timers.ts's.
import type { ClientEvent, HoldEvent, LockMode, ResourceEvent, WaitEvent } from '@deadlockd/proto';
import { without } from './collections.js';
import { FlushTimers } from './flush-timers.js';
import { FrameWriter, type FrameSink, type SentCounts } from './frame-writer.js';
import type { Logger } from './logger.js';
import type { CallSite, Owner, Rec, ReportedResource } from './model.js';
import { appFrames } from './stack-frames.js';

export type { FrameSink } from './frame-writer.js';

type OrderEvent = Extract<ClientEvent, { type: 'order' }>;

export interface ReporterOptions {
  reportAfterMs: number;
  flushIntervalMs: number;
  maxBufferedEvents: number;
  logger: Logger;
}

const MAX_STACK = 8192;
/** socket backlog above which a regular flush waits (the log keeps growing, bounded by maxBufferedEvents) */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const MAX_OUTLIVED_WARNINGS = 100;

export class Reporter {
  /** the welcomed connection's frames; null while disconnected */
  private out: FrameWriter | null = null;
  /** bumped per connection and per resync: declarations are re-sent in a new epoch */
  private epoch = 0;
  /**
   * The connection's daemon takes resource handles (welcome.features): each resource declared
   * in an epoch gets the next integer, and its waits, holds and releases name it by that (the
   * daemon finds it in an array slot instead of a hash lookup by name). A new epoch starts
   * again at 0: it begins with a snapshot, which replaces the daemon's handles too.
   */
  private handles = false;
  private nextHandle = 0;
  private log: ClientEvent[] = [];
  private needSnapshot = false;
  /** every tracked hold/wait, in the order they began */
  private live = new Set<Rec>();
  /** tracked records the daemon does not know yet, in the order they began */
  private unreported = new Set<Rec>();
  private readonly timers: FlushTimers;
  private overflowWarned = false;
  /** a hold-and-wait began: the next flush reports every unreported record, however young */
  private urgent = false;
  /** live records when a snapshot was last refused as too large (0: none); retried below it */
  private refusedAt = 0;
  private snapshotWarned = false;
  /** `kind\0resource` of locks that outlived their task, warned about once */
  private readonly outlivedWarned = new Set<string>();
  /** lock-order pairs (held → acquired) already sent in this epoch: each goes out once per connection */
  private orderPairs = new Map<ReportedResource, Set<ReportedResource | string>>();
  /** what left the process so far (diagnostics, the bench) */
  private readonly sent: SentCounts = { events: 0, frames: 0 };

  constructor(private readonly opts: ReporterOptions) {
    this.timers = new FlushTimers(() => this.flush(), opts.flushIntervalMs);
  }

  /** events and frames sent so far, and what is buffered now */
  stats(): { eventsSent: number; framesSent: number; bufferedEvents: number; liveRecords: number } {
    return { eventsSent: this.sent.events, framesSent: this.sent.frames, bufferedEvents: this.log.length, liveRecords: this.live.size };
  }

  // ---- connection -----------------------------------------------------------------------------

  /**
   * A connection was welcomed. `snapshot` false only for a first connection with no state to
   * send; `handles`: its welcome lists the `handles` feature.
   */
  attach(sink: FrameSink, snapshot: boolean, handles = false): void {
    this.out = new FrameWriter(sink, this.sent);
    this.handles = handles;
    if (snapshot || this.live.size > 0) this.sendSnapshot();
    else {
      this.newEpoch();
      this.log = [];
      this.needSnapshot = false;
    }
  }

  /** The connection is gone: drop the buffer; the next attach resyncs with a snapshot. */
  detach(): void {
    this.out = null;
    this.log = [];
    this.needSnapshot = false;
    this.urgent = false;
    this.unreported.clear();
    for (const rec of this.live) rec.reported = false;
    this.timers.cancel();
  }

  // ---- what happens in the app ------------------------------------------------------------------

  /** A hold or wait began. Records of an ended owner are not tracked (its work is over for the daemon). */
  begin(rec: Rec): void {
    if (rec.owner.ended) return;
    rec.tracked = true;
    this.live.add(rec);
    rec.owner.records.add(rec);
    if (this.out === null || this.needSnapshot) return;
    this.unreported.add(rec);
    if (rec.kind === 'wait' && this.opts.reportAfterMs > 0 && holdsSomething(rec.owner)) {
      this.urgent = true;
      this.timers.scheduleNow();
    } else if (this.opts.reportAfterMs <= 0) this.timers.schedule();
    else this.timers.reportIn(this.opts.reportAfterMs);
  }

  /** A wait was granted: it is now a hold of the same request. */
  granted(rec: Rec): void {
    rec.kind = 'hold';
    rec.holdSince = Date.now();
    if (rec.tracked && rec.reported && rec.waitId !== undefined) {
      this.push({ type: 'grant', waitId: rec.waitId, since: rec.holdSince });
    }
  }

  /** A hold was released, or a wait ended without a grant. */
  ended(rec: Rec, reason?: 'timeout' | 'signal' | 'deadlock' | 'error'): void {
    if (!rec.tracked) return;
    this.untrack(rec);
    if (!rec.reported) return;
    if (rec.kind === 'hold') {
      const ev: ClientEvent = { type: 'release', owner: rec.owner.id, resource: this.ref(rec.resource as ReportedResource) };
      if (rec.mode !== undefined) ev.mode = rec.mode;
      if (rec.units !== undefined) ev.units = rec.units;
      this.push(ev);
    } else if (rec.waitId !== undefined) {
      this.push(reason ? { type: 'cancel', waitId: rec.waitId, reason } : { type: 'cancel', waitId: rec.waitId });
    }
  }

  // ---- lock order -------------------------------------------------------------------------------

  /**
   * Is (held → acquired) new on this connection? Marks it seen. False while disconnected or
   * resyncing (nothing can be sent then; the pair is sent the next time it happens).
   * One Map and one Set lookup: this runs on every acquire by an owner that holds something.
   */
  isNewOrder(held: ReportedResource, acquired: ReportedResource, variant?: string): boolean {
    if (this.out === null || this.needSnapshot) return false;
    let after = this.orderPairs.get(held);
    // a mode pair on the same rwlock (upgrade, recursive read) is a fact of its own
    const key: ReportedResource | string = variant === undefined ? acquired : `${acquired.id}\u0000${variant}`;
    if (after === undefined) this.orderPairs.set(held, (after = new Set()));
    else if (after.has(key)) return false;
    after.add(key);
    return true;
  }

  /** Send an `order` fact (after declaring both resources on this connection), whatever reportAfterMs says. */
  order(owner: Owner, held: ReportedResource, acquired: ReportedResource, site: CallSite | null, modes?: { heldMode: LockMode; mode: LockMode }): void {
    if (this.out === null || this.needSnapshot) return;
    this.declareResource(held, this.log);
    this.declareResource(acquired, this.log);
    // the owner too, so that the hazard's site names the task as people know it
    const pre: ClientEvent[] = [];
    this.declareOwner(owner, pre);
    for (const e of pre) this.push(e);
    const ev: OrderEvent = { type: 'order', held: held.id, acquired: acquired.id, owner: owner.id, ...modes };
    const stack = formatSite(site);
    if (stack !== undefined) ev.stack = stack;
    this.push(ev);
  }

  /** Forget a record without telling the daemon (join waits on a task that ended: the daemon drops them). */
  untrack(rec: Rec): void {
    if (!rec.tracked) return;
    rec.tracked = false;
    this.live = without(this.live, rec);
    this.unreported = without(this.unreported, rec);
    rec.owner.records = without(rec.owner.records, rec);
    // a snapshot refused as too large is tried again once the state is smaller than it was
    if (this.needSnapshot && this.refusedAt > 0 && this.live.size < this.refusedAt) this.timers.schedule();
  }

  /** An owner (task) ended: the daemon drops everything it had, so its records are no longer reported. */
  ownerEnded(owner: Owner): void {
    if (owner.ended) return;
    owner.ended = true;
    for (const rec of owner.records) {
      this.warnOutlived(owner, rec);
      this.untrack(rec);
    }
    if (this.out !== null && owner.declaredEpoch === this.epoch) this.push({ type: 'end', owner: owner.id });
  }

  /**
   * A lock that outlives its task (a handle returned out of `task()`, an acquire never
   * awaited) is no longer reported: the daemon ends the owner. That can only hide a deadlock,
   * but the user should know: one warning per resource and kind, at most MAX_OUTLIVED_WARNINGS.
   */
  private warnOutlived(owner: Owner, rec: Rec): void {
    if (rec.resource === null || this.outlivedWarned.size >= MAX_OUTLIVED_WARNINGS) return;
    const key = `${rec.kind}\u0000${rec.resource.id}`;
    if (this.outlivedWarned.has(key)) return;
    this.outlivedWarned.add(key);
    const what = rec.kind === 'hold' ? `still holding '${rec.resource.id}'` : `with an acquire of '${rec.resource.id}' still pending (never awaited?)`;
    this.opts.logger.warn(
      `task '${owner.name}' ended ${what}; deadlockd stops tracking it, so a deadlock through it would go unseen. ` +
        `Release it before the task returns, or take it inside the task that uses it.`,
    );
  }

  /** A resource's declaration changed (semaphore capacity): re-declare it if the daemon knows it. */
  resourceChanged(res: ReportedResource): void {
    if (this.out !== null && res.declaredEpoch === this.epoch) this.push(this.declarationOf(res));
  }

  /** Is this hold known to the daemon on the current connection? */
  isReportedHold(rec: Rec): boolean {
    return this.out !== null && rec.tracked && rec.reported && rec.kind === 'hold';
  }

  /** Report a known hold again (the daemon dropped it with a hold that subsumed it: rwlock upgrade). */
  reassertHold(rec: Rec): void {
    if (!this.isReportedHold(rec) || rec.resource === null) return;
    const ev: HoldEvent = { type: 'hold', owner: rec.owner.id, resource: this.ref(rec.resource), since: rec.holdSince };
    if (rec.mode !== undefined) ev.mode = rec.mode;
    if (rec.units !== undefined) ev.units = rec.units;
    this.push(ev);
  }

  // ---- flushing ---------------------------------------------------------------------------------

  /**
   * Send what is buffered plus the reports that are due. `force` ignores socket backpressure
   * (used before answering `abort`/`confirm`, which must follow every earlier event).
   */
  flush(force = false): void {
    this.timers.clearPending();
    const out = this.out;
    if (out === null) return;
    if (!force && out.bufferedAmount() > HIGH_WATER_BYTES) {
      // the daemon (or network) is slow: keep logging; the bound on the log resyncs us if needed
      this.timers.retryLater();
      return;
    }
    if (this.needSnapshot) {
      this.sendSnapshot();
      return;
    }
    this.reportDue();
    if (this.log.length === 0) return;
    const events = this.log;
    this.log = [];
    out.send('events', events);
  }

  /** Send a control frame (abort_result, confirm_result) right now, if connected. */
  sendControl(frame: object): void {
    this.out?.sendControl(frame);
  }

  private push(ev: ClientEvent): void {
    if (this.out === null || this.needSnapshot) return;
    this.log.push(ev);
    if (this.log.length > this.opts.maxBufferedEvents) {
      this.overflow();
      return;
    }
    this.timers.schedule();
  }

  /** Too much buffered: drop it all and resync with a snapshot, which describes the state exactly. */
  private overflow(): void {
    if (!this.overflowWarned) {
      this.overflowWarned = true;
      this.opts.logger.warn(
        `event buffer exceeded ${this.opts.maxBufferedEvents} events; dropping it and resyncing with a snapshot`,
      );
    }
    this.log = [];
    this.unreported.clear();
    this.needSnapshot = true;
    this.timers.schedule();
  }

  /** Append the reports of records that reached reportAfterMs, oldest first. */
  private reportDue(): void {
    const threshold = this.urgent ? 0 : this.opts.reportAfterMs;
    this.urgent = false;
    if (this.unreported.size === 0) return;
    const now = performance.now();
    for (const rec of this.unreported) {
      // the set is in begin order, so the first young record ends the scan
      if (threshold > 0 && now - rec.start < threshold) {
        this.timers.reportIn(rec.start + threshold - now);
        return;
      }
      this.unreported.delete(rec);
      this.describe(rec, this.log);
    }
  }

  /** Declarations this record needs (once per epoch), then its hold/wait event. */
  private describe(rec: Rec, out: ClientEvent[]): void {
    rec.reported = true;
    this.declareOwner(rec.owner, out);
    const res = rec.resource;
    if (res !== null) this.declareResource(res, out);
    if (rec.task !== null) this.declareOwner(rec.task, out);
    const stack = formatSite(rec.site);
    if (rec.kind === 'hold') {
      const ev: HoldEvent = { type: 'hold', owner: rec.owner.id, resource: this.ref(res as ReportedResource), since: rec.holdSince };
      if (rec.mode !== undefined) ev.mode = rec.mode;
      if (rec.units !== undefined) ev.units = rec.units;
      if (stack !== undefined) ev.stack = stack;
      out.push(ev);
    } else {
      const ev: WaitEvent = { type: 'wait', waitId: rec.waitId as string, owner: rec.owner.id };
      if (res !== null) ev.resource = this.ref(res);
      if (rec.task !== null) ev.task = rec.task.id;
      if (rec.mode !== undefined) ev.mode = rec.mode;
      if (rec.units !== undefined) ev.units = rec.units;
      ev.since = rec.since;
      if (stack !== undefined) ev.stack = stack;
      if (rec.span !== undefined) ev.trace = rec.span.trace;
      out.push(ev);
    }
  }

  private declareResource(res: ReportedResource, out: ClientEvent[]): void {
    if (res.declaredEpoch === this.epoch) return;
    res.declaredEpoch = this.epoch;
    if (this.handles) res.handle = this.nextHandle++;
    out.push(this.declarationOf(res));
  }

  /** The resource's declaration, with its handle when the daemon takes handles. */
  private declarationOf(res: ReportedResource): ResourceEvent {
    const ev = res.declaration();
    if (this.handles) ev.handle = res.handle;
    return ev;
  }

  /** How a wait, hold or release names a resource declared in this epoch: its handle, or its name. */
  private ref(res: ReportedResource): string | number {
    return this.handles ? res.handle : res.id;
  }

  /** A new connection or a resync: declarations are re-sent and lock-order pairs sent again. */
  private newEpoch(): void {
    this.epoch++;
    this.nextHandle = 0;
    this.orderPairs = new Map();
  }

  private declareOwner(owner: Owner, out: ClientEvent[]): void {
    if (owner.declaredEpoch === this.epoch) return;
    owner.declaredEpoch = this.epoch;
    out.push({
      type: 'owner',
      owner: owner.id,
      name: owner.name,
      priority: owner.priority,
      abortable: owner.abortable,
      startedAt: owner.startedAt,
      ...(owner.attributes !== undefined ? { attributes: owner.attributes } : {}),
      ...(owner.span !== undefined ? { trace: owner.span.trace } : {}),
    });
  }

  /**
   * The whole current state as a `snapshot`: one frame, or consecutive `snapshot` frames
   * marked `more` until the last, which the daemon applies together (atomically). A state
   * over the daemon's maxSnapshotEvents is not sent (the daemon would close the connection,
   * and the reconnect would send it again): it waits, with detection off for this client,
   * until it has shrunk below the size that was refused.
   */
  private sendSnapshot(): void {
    const out = this.out as FrameWriter;
    const limit = out.maxSnapshotEvents;
    this.newEpoch();
    this.log = [];
    this.unreported.clear();
    if (limit !== undefined && (this.live.size > limit || (this.refusedAt > 0 && this.live.size >= this.refusedAt))) {
      this.holdSnapshot(this.live.size, limit);
      return;
    }
    const events: ClientEvent[] = [];
    for (const rec of this.live) this.describe(rec, events);
    if (limit !== undefined && events.length > limit) {
      this.newEpoch(); // the declarations made while describing were not sent
      this.holdSnapshot(events.length, limit);
      return;
    }
    this.needSnapshot = false;
    this.refusedAt = 0;
    this.snapshotWarned = false;
    out.send('snapshot', events);
  }

  private holdSnapshot(size: number, limit: number): void {
    this.needSnapshot = true;
    this.refusedAt = this.live.size;
    if (this.snapshotWarned) return;
    this.snapshotWarned = true;
    this.opts.logger.warn(
      `deadlockd: this client's state (${size} events) exceeds the daemon's --max-snapshot-events (${limit}); ` +
        `nothing is reported until it shrinks, so deadlock detection is off for this client meanwhile`,
    );
  }
}

/** Does the owner hold a lock (a tracked hold, reported or not)? Only contended waits ask. */
function holdsSomething(owner: Owner): boolean {
  for (const r of owner.records) if (r.kind === 'hold') return true;
  return false;
}

/** A captured call site, the app's frames only, bounded for the wire. */
function formatSite(site: CallSite | null): string | undefined {
  if (site === null) return undefined;
  const raw = site.stack;
  if (typeof raw !== 'string') return undefined;
  // the app's frames only (stack-frames.ts): no Node internals, none of the SDK's own
  const text = appFrames(raw);
  if (text.length === 0) return undefined;
  return text.length > MAX_STACK ? text.slice(0, MAX_STACK) : text;
}
