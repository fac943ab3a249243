// Bounded history of the deadlocks a namespace acted on, kept in the history
// file (history-store/history-db.ts: SQLite, so it survives restarts; or in
// memory with `:memory:`). At most `capacity` entries, `maxBytes` of reports
// (their JSON size) and entries no older than `maxAgeMs`, the oldest dropped
// first; the newest entry is always kept. It records what the deadlock book
// (engine/book.ts) tells it: an entry appears when the book acts on a deadlock
// (aborting, reordering, unresolvable) and is updated in place when the book
// ends it. Entries are grouped by their signature (the same for every
// recurrence of one deadlock pattern): each group counts its deadlocks and
// keeps when it was first and last seen, also after its entries have left the
// history; there are at most `capacity` groups (the one seen longest ago goes
// first), none last seen longer than `maxAgeMs` ago.
//
// A failing write (a full disk) must not stop deadlock handling: it is
// reported through `onError` and the deadlock goes on without its record.
//
// Writes are off the resolution path: record() notes what the book said (the
// entry's state at that moment) and the notes are written together, in one
// transaction, on the next turn of the event loop, after the aborts have left.
// A write costs a millisecond or so (SQLite, JSON of the report, the bounds);
// done in line it came before the victim's abort frame. Every read writes what
// is noted first, so a read never misses a deadlock already acted on.
import type { DeadlockReport } from '@deadlockd/proto';
import type { BookEntry, DeadlockState, OpenState } from './engine/book.js';
import { HistoryDb, type EntryQuery } from './history-store/history-db.js';
import type { DeadlockGroup, DeadlockStatus, HistoryEntry } from './history-store/types.js';

export type { DeadlockGroup, DeadlockStatus, HistoryEntry };
/** what a current (open) deadlock is doing: the book's state */
export type CycleStatus = OpenState;

/** An ended entry shows as resolved however it ended: once acted on, its end is the deadlock's end. */
const statusOf = (s: DeadlockState): DeadlockStatus => (s === 'confirming' || s === 'dismissed' ? 'resolved' : s);

/** A report from an older engine has no signature: it is a group of its own. */
export const signatureOf = (r: DeadlockReport): string => r.signature ?? r.id;

/** What the history needs of a book entry. */
type Recorded = Pick<BookEntry, 'id' | 'deadlock' | 'state' | 'endedAt'>;

/** Notes written per transaction at most; more wait for the next turn (a burst of deadlocks is not one long stall). */
const MAX_NOTES_PER_WRITE = 256;

/** Reads drop what aged out at most this often (records always do). */
const AGE_CHECK_MS = 1_000;

export interface HistoryOptions {
  /** the file shared by the daemon's namespaces; default: a private in-memory one */
  db?: HistoryDb;
  /** 0 = no age limit */
  maxAgeMs?: number;
  now?: () => number;
  onError?: (err: unknown, what: string) => void;
}

export class DeadlockHistory {
  private readonly db: HistoryDb;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly onError: (err: unknown, what: string) => void;
  /** counts of what the file keeps for this namespace, so bounds need no query */
  private count: number;
  private totalBytes: number;
  /** list(), newest first, until the next change (the dashboard asks for it every frame) */
  private cached: HistoryEntry[] | undefined;
  private agedAt = Number.NEGATIVE_INFINITY;
  /** what the book said since the last write, in order (copies: the entry changes on) */
  private readonly notes: Recorded[] = [];
  private flushing: NodeJS.Immediate | undefined;

  constructor(
    private readonly capacity: number,
    private readonly namespace: string,
    private readonly maxBytes = Number.MAX_SAFE_INTEGER,
    o: HistoryOptions = {},
  ) {
    this.db = o.db ?? HistoryDb.open(':memory:');
    this.maxAgeMs = o.maxAgeMs ?? 0;
    this.now = o.now ?? Date.now;
    this.onError = o.onError ?? ((err) => { throw err; });
    this.db.beforeClose(() => this.close());
    const t = this.db.totals(namespace);
    this.count = t.count;
    this.totalBytes = t.bytes;
    // the bounds may be smaller than the previous daemon's
    this.write('trim', () => this.trim(undefined));
  }

  /** what the kept reports weigh (their JSON, in UTF-16 code units ≈ bytes) */
  get bytes(): number {
    this.flush();
    return this.totalBytes;
  }

  get size(): number {
    this.flush();
    return this.count;
  }

  /** The book acted on this deadlock, or it changed state after that, or ended: written on the next turn. */
  record(e: Recorded): void {
    this.notes.push({ id: e.id, deadlock: e.deadlock, state: e.state, endedAt: e.endedAt });
    this.flushSoon();
  }

  private flushSoon(): void {
    if (this.flushing !== undefined) return;
    this.flushing = setImmediate(() => {
      this.flushing = undefined;
      this.flush(MAX_NOTES_PER_WRITE);
    });
  }

  /** Writes what is noted; nothing is written after this. The file's close calls it (beforeClose). */
  close(): void {
    this.flush();
    if (this.flushing !== undefined) clearImmediate(this.flushing);
    this.flushing = undefined;
  }

  /** Writes the notes taken (at most `max`; the rest on the next turn). Every read and close() call it first. */
  flush(max = Number.POSITIVE_INFINITY): void {
    if (this.notes.length === 0) return;
    const batch = this.notes.splice(0, max);
    this.write('record', () => {
      for (const e of batch) this.apply(e);
    });
    if (this.notes.length > 0) this.flushSoon();
  }

  private apply(e: Recorded): void {
    this.cached = undefined;
    // the kept report as its stored text: a state change compares texts, and parses nothing
    const kept = this.db.reportJsonOf(this.namespace, e.id);
    if (kept !== undefined) {
      const report = JSON.stringify(e.deadlock.report);
      const changed = report !== kept;
      this.db.update(this.namespace, e.id, statusOf(e.state), e.endedAt, changed ? report : undefined);
      if (changed) this.totalBytes += report.length - kept.length;
      return;
    }
    if (e.endedAt !== undefined) return; // ended after it was dropped (capacity, bytes, age): stays dropped
    const entry: HistoryEntry = {
      id: e.id,
      key: e.deadlock.key,
      namespace: this.namespace,
      signature: signatureOf(e.deadlock.report),
      detectedAt: e.deadlock.detectedAt,
      status: statusOf(e.state),
      report: e.deadlock.report,
    };
    const json = JSON.stringify(entry.report);
    this.db.insert(entry, json);
    this.count++;
    this.totalBytes += json.length;
    this.countInGroup(entry);
    this.trim(entry.id);
  }

  get(id: string): HistoryEntry | undefined {
    this.flush();
    this.dropAged();
    return this.db.get(this.namespace, id);
  }

  /** every kept entry, newest first */
  list(): HistoryEntry[] {
    this.flush();
    this.dropAged();
    this.cached ??= this.db.list(this.namespace).entries;
    return this.cached;
  }

  /** entries matching `q`, newest first, and how many match before `limit` */
  query(q: EntryQuery): { total: number; entries: HistoryEntry[] } {
    this.flush();
    this.dropAged();
    return this.db.list(this.namespace, q);
  }

  /** recurring deadlocks matching `q`, the most recently seen first (`since`: last seen at or after) */
  groups(q: EntryQuery = {}): { total: number; groups: DeadlockGroup[] } {
    this.flush();
    this.dropAged();
    return this.db.groups(this.namespace, q);
  }

  private countInGroup(e: HistoryEntry): void {
    const services = [...new Set(e.report.members.map((m) => m.service))];
    const known = this.db.getGroup(this.namespace, e.signature);
    this.db.putGroup(
      this.namespace,
      known
        ? {
            ...known,
            count: known.count + 1,
            firstSeen: Math.min(known.firstSeen, e.detectedAt),
            lastSeen: Math.max(known.lastSeen, e.detectedAt),
            latestId: e.id,
            pattern: e.report.pattern ?? known.pattern,
            services: [...new Set([...known.services, ...services])].sort(),
          }
        : { signature: e.signature, count: 1, firstSeen: e.detectedAt, lastSeen: e.detectedAt, latestId: e.id, pattern: e.report.pattern ?? [], services: services.sort() },
    );
  }

  /** Applies the bounds: age, then count and bytes (never dropping `keep`, the newest). */
  private trim(keep: string | undefined): void {
    const cutoff = this.maxAgeMs > 0 ? this.now() - this.maxAgeMs : undefined;
    const before = this.count;
    this.agedAt = this.now();
    if (cutoff !== undefined) {
      const gone = this.db.deleteDetectedBefore(this.namespace, cutoff);
      this.count -= gone.count;
      this.totalBytes -= gone.bytes;
    }
    while (this.count > this.capacity || (this.totalBytes > this.maxBytes && this.count > 1)) {
      const oldest = this.db.oldest(this.namespace);
      if (!oldest || oldest.id === keep) break;
      this.db.delete(this.namespace, oldest.id);
      this.count--;
      this.totalBytes -= oldest.bytes;
    }
    this.db.trimGroups(this.namespace, cutoff, this.capacity);
    if (this.count !== before) this.cached = undefined;
  }

  /** What aged out leaves also when no deadlock comes to push it out (checked at most every AGE_CHECK_MS). */
  private dropAged(): void {
    if (this.maxAgeMs === 0 || this.now() - this.agedAt < AGE_CHECK_MS) return;
    this.write('age', () => this.trim(undefined));
  }

  /** One change in one transaction (whatever changes the entries drops the cached list). */
  private write(what: string, fn: () => void): void {
    try {
      this.db.transaction(fn);
    } catch (err) {
      // the counters may be off now: read them back from what the file has
      try {
        const t = this.db.totals(this.namespace);
        this.count = t.count;
        this.totalBytes = t.bytes;
      } catch {
        // the file is gone altogether; the counters stay as they were
      }
      this.cached = undefined;
      this.onError(err, what);
    }
  }
}
