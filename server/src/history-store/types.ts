// What the history keeps: one entry per deadlock the book acted on, and one
// group per signature (every recurrence of one deadlock pattern).
import type { DeadlockReport } from '@deadlockd/proto';

/**
 * interrupted: it was open (aborting, reordering, unresolvable) when the daemon stopped; the
 * daemon that acted on it is gone, and what is still blocked comes back with the clients'
 * snapshots as a new deadlock.
 */
export type DeadlockStatus = 'aborting' | 'reordering' | 'unresolvable' | 'resolved' | 'interrupted';

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
