// Bounded history of the deadlocks a namespace acted on: the newest
// `capacity` entries, oldest dropped first. It records what the deadlock book
// (engine/book.ts) tells it: an entry appears when the book acts on a
// deadlock (aborting, reordering, unresolvable) and is updated in place when
// the book ends it.
import type { DeadlockReport } from '@deadlockd/proto';
import type { BookEntry, DeadlockState, OpenState } from './engine/book.js';

export type DeadlockStatus = 'aborting' | 'reordering' | 'unresolvable' | 'resolved';
/** what a current (open) deadlock is doing: the book's state */
export type CycleStatus = OpenState;

export interface HistoryEntry {
  id: string;
  key: string;
  namespace: string;
  detectedAt: number;
  status: DeadlockStatus;
  resolvedAt?: number;
  report: DeadlockReport;
}

/** An ended entry shows as resolved however it ended: once acted on, its end is the deadlock's end. */
const statusOf = (s: DeadlockState): DeadlockStatus => (s === 'confirming' || s === 'dismissed' ? 'resolved' : s);

export class DeadlockHistory {
  // Map iteration order is insertion order: the first key is the oldest entry.
  private readonly entries = new Map<string, HistoryEntry>();

  constructor(
    private readonly capacity: number,
    private readonly namespace: string,
  ) {}

  /** The book acted on this deadlock or ended it. */
  record(e: BookEntry): void {
    const known = this.entries.get(e.id);
    if (known) {
      known.status = statusOf(e.state);
      known.report = e.deadlock.report;
      if (e.endedAt !== undefined) known.resolvedAt = e.endedAt;
      return;
    }
    if (e.endedAt !== undefined) return; // ended before it was recorded (dropped by capacity): stays dropped
    this.entries.set(e.id, {
      id: e.id,
      key: e.deadlock.key,
      namespace: this.namespace,
      detectedAt: e.deadlock.detectedAt,
      status: statusOf(e.state),
      report: e.deadlock.report,
    });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get(id: string): HistoryEntry | undefined {
    return this.entries.get(id);
  }

  /** newest first */
  list(): HistoryEntry[] {
    return [...this.entries.values()].reverse();
  }
}
