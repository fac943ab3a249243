// Collects a snapshot sent in several `snapshot` frames (all but the last with
// `more: true`) so that the daemon replaces a client's state in one step. If
// the parts were applied as they came, a detection between two parts would see
// a client with half its holds: it could miss a deadlock for a moment, and the
// client would briefly appear to hold less than it does on REST and the
// dashboard. The parts are bounded (maxEvents, all parts together, per
// connection; and a SnapshotBudget shared by every connection), and an
// event's error still points at the frame and index it came in.
import type { ClientEvent } from '@deadlockd/proto';

export interface Part {
  seq: number;
  count: number;
}

export type Added = { ok: true; complete: boolean } | { ok: false; busy: boolean; message: string };

/**
 * Events of unfinished snapshots held for all connections together. Without it
 * every connection may hold `maxEvents`, and many connections many times that.
 */
export class SnapshotBudget {
  private held = 0;

  constructor(readonly max: number) {}

  get inFlight(): number {
    return this.held;
  }

  reserve(n: number): boolean {
    if (this.held + n > this.max) return false;
    this.held += n;
    return true;
  }

  release(n: number): void {
    this.held -= n;
  }
}

export class SnapshotParts {
  private events: ClientEvent[] = [];
  private parts: Part[] = [];
  /** what this collector holds of the shared budget */
  private reserved = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly budget: SnapshotBudget = new SnapshotBudget(Number.MAX_SAFE_INTEGER),
  ) {}

  /** True between a part with `more: true` and the last part. */
  get pending(): boolean {
    return this.parts.length > 0;
  }

  add(seq: number, events: ClientEvent[], more: boolean): Added {
    const total = this.events.length + events.length;
    if (total > this.maxEvents) {
      const had = this.events.length;
      this.clear();
      return { ok: false, busy: false, message: `snapshot parts carry ${had} + ${events.length} events; the limit is ${this.maxEvents} (--max-snapshot-events)` };
    }
    // Only parts that are held count against the shared budget; a snapshot in one frame is applied at once.
    if (more || this.parts.length > 0) {
      if (!this.budget.reserve(events.length)) {
        const inFlight = this.budget.inFlight;
        this.clear();
        return {
          ok: false,
          busy: true,
          message: `the daemon holds ${inFlight} events of unfinished snapshots (all connections); ${events.length} more would exceed --max-snapshot-events-in-flight (${this.budget.max}): send it again later`,
        };
      }
      this.reserved += events.length;
    }
    for (const e of events) this.events.push(e);
    this.parts.push({ seq, count: events.length });
    return { ok: true, complete: !more };
  }

  /** Every event of the snapshot, and the parts they came in; empties the collector. */
  take(): { events: ClientEvent[]; parts: Part[] } {
    const taken = { events: this.events, parts: this.parts };
    this.clear();
    return taken;
  }

  clear(): void {
    this.budget.release(this.reserved);
    this.reserved = 0;
    this.events = [];
    this.parts = [];
  }
}

/** Where the event at `index` of the joined snapshot came from: its frame's seq and its index there. */
export function locate(parts: Part[], index: number): { seq: number; index: number } {
  let i = index;
  for (const p of parts) {
    if (i < p.count) return { seq: p.seq, index: i };
    i -= p.count;
  }
  const last = parts[parts.length - 1];
  return { seq: last?.seq ?? 0, index: i };
}
