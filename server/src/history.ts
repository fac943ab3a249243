// Bounded history of the deadlocks a namespace reported: the newest
// `capacity` entries and at most `maxBytes` of reports (their JSON size),
// oldest dropped first; the newest entry is always kept. Entries are updated in place when
// a deadlock ends (its victim's wait was aborted or another wait ended).
import type { DeadlockReport } from '@deadlockd/proto';
import type { Deadlock } from './engine/types.js';

export type DeadlockStatus = 'aborting' | 'unresolvable' | 'resolved';
/** what a current (active, unresolved) deadlock is doing */
export type CycleStatus = 'confirming' | 'aborting' | 'unresolvable';

/**
 * The status of a deadlock the engine holds as active: in the history once its resolution
 * began (aborting, unresolvable), else still being confirmed with the clients; undefined once
 * resolved (the engine lets go of it at the next event). REST and the dashboard both use it.
 */
export function cycleStatus(history: DeadlockHistory, id: string): CycleStatus | undefined {
  const status = history.get(id)?.status ?? 'confirming';
  return status === 'resolved' ? undefined : status;
}

export interface HistoryEntry {
  id: string;
  key: string;
  namespace: string;
  detectedAt: number;
  status: DeadlockStatus;
  resolvedAt?: number;
  report: DeadlockReport;
}

export class DeadlockHistory {
  // Map iteration order is insertion order: the first key is the oldest entry.
  private readonly entries = new Map<string, HistoryEntry>();
  /** JSON size of each entry's report, and their sum */
  private readonly sizes = new Map<string, number>();
  private totalBytes = 0;

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

  private drop(id: string): void {
    this.entries.delete(id);
    this.totalBytes -= this.sizes.get(id) ?? 0;
    this.sizes.delete(id);
  }

  add(d: Deadlock): HistoryEntry {
    const entry: HistoryEntry = {
      id: d.id,
      key: d.key,
      namespace: this.namespace,
      detectedAt: d.detectedAt,
      status: d.victims.length > 0 ? 'aborting' : 'unresolvable',
      report: d.report,
    };
    this.drop(d.id);
    this.entries.set(d.id, entry);
    // reports are capped (report.ts), so this costs little
    const size = JSON.stringify(d.report).length;
    this.sizes.set(d.id, size);
    this.totalBytes += size;
    while (this.entries.size > this.capacity || (this.totalBytes > this.maxBytes && this.entries.size > 1)) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined || oldest === d.id) break;
      this.drop(oldest);
    }
    return entry;
  }

  markResolved(ids: readonly string[], at: number): void {
    for (const id of ids) {
      const e = this.entries.get(id);
      if (e && e.status !== 'resolved') {
        e.status = 'resolved';
        e.resolvedAt = at;
      }
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
