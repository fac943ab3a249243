// Bounded history of the deadlocks a namespace acted on: the newest
// `capacity` entries and at most `maxBytes` of reports (their JSON size),
// oldest dropped first; the newest entry is always kept. It records what the
// deadlock book (engine/book.ts) tells it: an entry appears when the book acts
// on a deadlock (aborting, reordering, unresolvable) and is updated in place
// when the book ends it. Entries are grouped by their signature (the same
// for every recurrence of one deadlock pattern): each group counts its
// deadlocks and keeps when it was first and last seen, also after its
// entries have left the history; there are at most `capacity` groups, the
// one seen longest ago dropped first.
import type { DeadlockReport } from '@deadlockd/proto';
import type { BookEntry, DeadlockState, OpenState } from './engine/book.js';

export type DeadlockStatus = 'aborting' | 'reordering' | 'unresolvable' | 'resolved';
/** what a current (open) deadlock is doing: the book's state */
export type CycleStatus = OpenState;

export interface HistoryEntry {
  id: string;
  key: string;
  namespace: string;
  /** the same for every recurrence (engine/signature.ts): entries group by it */
  signature: string;
  detectedAt: number;
  status: DeadlockStatus;
  resolvedAt?: number;
  report: DeadlockReport;
}

/** Every recurrence of one deadlock pattern, counted as hazards are. */
export interface DeadlockGroup {
  signature: string;
  /** deadlocks with this signature recorded (also those the history no longer keeps) */
  count: number;
  firstSeen: number;
  lastSeen: number;
  /** the newest one's id (it may have left the history since) */
  latestId: string;
  /** the edges in class terms, as the report has them */
  pattern: string[];
  /** services of the members, of every recurrence */
  services: string[];
}

/** A report from an older engine has no signature: it is a group of its own. */
export const signatureOf = (r: DeadlockReport): string => r.signature ?? r.id;

/** An ended entry shows as resolved however it ended: once acted on, its end is the deadlock's end. */
const statusOf = (s: DeadlockState): DeadlockStatus => (s === 'confirming' || s === 'dismissed' ? 'resolved' : s);

/** What the history needs of a book entry. */
type Recorded = Pick<BookEntry, 'id' | 'deadlock' | 'state' | 'endedAt'>;

export class DeadlockHistory {
  // Map iteration order is insertion order: the first key is the oldest entry.
  private readonly entries = new Map<string, HistoryEntry>();
  /** JSON size of each entry's report, and their sum */
  private readonly sizes = new Map<string, number>();
  private totalBytes = 0;
  /** by signature; Map order is the order they were last seen in (the first is the stalest) */
  private readonly groupsBySignature = new Map<string, DeadlockGroup>();

  constructor(
    private readonly capacity: number,
    private readonly namespace: string,
    private readonly maxBytes = Number.MAX_SAFE_INTEGER,
  ) {}

  /** what the kept reports weigh (their JSON, in UTF-16 code units ≈ bytes) */
  get bytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The book acted on this deadlock, or it changed state after that, or ended. */
  record(e: Recorded): void {
    const known = this.entries.get(e.id);
    if (known) {
      known.status = statusOf(e.state);
      if (known.report !== e.deadlock.report) this.setReport(known, e.deadlock.report);
      if (e.endedAt !== undefined) known.resolvedAt = e.endedAt;
      return;
    }
    if (e.endedAt !== undefined) return; // ended after it was dropped (capacity, bytes): stays dropped
    const entry: HistoryEntry = {
      id: e.id,
      key: e.deadlock.key,
      namespace: this.namespace,
      signature: signatureOf(e.deadlock.report),
      detectedAt: e.deadlock.detectedAt,
      status: statusOf(e.state),
      report: e.deadlock.report,
    };
    this.entries.set(e.id, entry);
    this.setReport(entry, e.deadlock.report);
    this.countInGroup(entry);
    while (this.entries.size > this.capacity || (this.totalBytes > this.maxBytes && this.entries.size > 1)) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined || oldest === e.id) break;
      this.drop(oldest);
    }
  }

  get(id: string): HistoryEntry | undefined {
    return this.entries.get(id);
  }

  /** newest first */
  list(): HistoryEntry[] {
    return [...this.entries.values()].reverse();
  }

  /** recurring deadlocks, the most recently seen first */
  groups(): DeadlockGroup[] {
    return [...this.groupsBySignature.values()].reverse();
  }

  private countInGroup(e: HistoryEntry): void {
    const services = e.report.members.map((m) => m.service);
    const known = this.groupsBySignature.get(e.signature);
    if (known) {
      this.groupsBySignature.delete(e.signature); // re-inserted last: the most recently seen
      known.count++;
      known.firstSeen = Math.min(known.firstSeen, e.detectedAt);
      known.lastSeen = Math.max(known.lastSeen, e.detectedAt);
      known.latestId = e.id;
      known.pattern = e.report.pattern ?? known.pattern;
      known.services = [...new Set([...known.services, ...services])].sort();
      this.groupsBySignature.set(e.signature, known);
      return;
    }
    this.groupsBySignature.set(e.signature, {
      signature: e.signature,
      count: 1,
      firstSeen: e.detectedAt,
      lastSeen: e.detectedAt,
      latestId: e.id,
      pattern: e.report.pattern ?? [],
      services: [...new Set(services)].sort(),
    });
    // as many groups as entries at most: the stalest go first
    while (this.groupsBySignature.size > this.capacity) this.groupsBySignature.delete(this.groupsBySignature.keys().next().value as string);
  }

  private setReport(entry: HistoryEntry, report: DeadlockReport): void {
    entry.report = report;
    // reports are capped (report.ts), so this costs little
    const size = JSON.stringify(report).length;
    this.totalBytes += size - (this.sizes.get(entry.id) ?? 0);
    this.sizes.set(entry.id, size);
  }

  private drop(id: string): void {
    this.entries.delete(id);
    this.totalBytes -= this.sizes.get(id) ?? 0;
    this.sizes.delete(id);
  }
}
