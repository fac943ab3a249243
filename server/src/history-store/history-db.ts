// The history's SQLite file (better-sqlite3: synchronous, so recording a
// deadlock stays one call on the event loop, as it was in memory). One file
// per daemon holds every namespace's deadlocks and recurring groups; reports
// are stored as their JSON. The file is opened in exclusive locking mode: a
// second daemon pointed at the same file is refused at start (it would take
// the first one's open deadlocks for interrupted ones and mix their counts).
// WAL with synchronous=NORMAL: a crash of the process loses nothing that was
// written; a crash of the machine may lose the last few deadlocks.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { DeadlockReport } from '@deadlockd/proto';
import { ConfigError } from '../config.js';
import type { DeadlockGroup, DeadlockStatus, HistoryEntry } from './types.js';

/** errors of mkdir and of SQLite that say the place cannot hold a file */
const CANNOT_CREATE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PERM']);

/** Bumped when the tables change; a file of a newer version is refused, not guessed at. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS deadlocks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace TEXT NOT NULL,
  id TEXT NOT NULL,
  key TEXT NOT NULL,
  signature TEXT NOT NULL,
  detected_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  resolved_at INTEGER,
  services TEXT NOT NULL,
  report TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  UNIQUE (namespace, id)
);
CREATE INDEX IF NOT EXISTS deadlocks_by_namespace ON deadlocks (namespace, seq);
CREATE INDEX IF NOT EXISTS deadlocks_by_signature ON deadlocks (namespace, signature, seq);
-- the age bound runs with every deadlock recorded: without it, a scan of the namespace's
-- whole history (reports included) per deadlock, 0.6 ms at the default 1,000 entries
CREATE INDEX IF NOT EXISTS deadlocks_by_age ON deadlocks (namespace, detected_at);
CREATE TABLE IF NOT EXISTS deadlock_groups (
  namespace TEXT NOT NULL,
  signature TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  latest_id TEXT NOT NULL,
  pattern TEXT NOT NULL,
  services TEXT NOT NULL,
  -- order of the last sighting (the stalest group goes first)
  seen_seq INTEGER NOT NULL,
  PRIMARY KEY (namespace, signature)
);
CREATE INDEX IF NOT EXISTS groups_by_sighting ON deadlock_groups (namespace, seen_seq);
CREATE INDEX IF NOT EXISTS groups_by_age ON deadlock_groups (namespace, last_seen);
`;

/** The history file cannot be used: the CLI prints the message and exits with code 2, as for a bad setting. */
export class HistoryFileError extends ConfigError {
  override name = 'HistoryFileError';
  constructor(
    readonly code: 'HISTORY_FILE_BUSY' | 'HISTORY_FILE_UNWRITABLE' | 'HISTORY_FILE_UNUSABLE' | 'HISTORY_FILE_TOO_NEW',
    message: string,
  ) {
    super(message);
  }
}

export interface EntryQuery {
  since?: number | undefined;
  service?: string | undefined;
  signature?: string | undefined;
  /** at most this many, newest first (all when absent) */
  limit?: number | undefined;
}

interface EntryRow {
  id: string;
  key: string;
  namespace: string;
  signature: string;
  detected_at: number;
  status: DeadlockStatus;
  resolved_at: number | null;
  report: string;
}

interface GroupRow {
  signature: string;
  count: number;
  first_seen: number;
  last_seen: number;
  latest_id: string;
  pattern: string;
  services: string;
}

const toEntry = (r: EntryRow): HistoryEntry => ({
  id: r.id,
  key: r.key,
  namespace: r.namespace,
  signature: r.signature,
  detectedAt: r.detected_at,
  status: r.status,
  ...(r.resolved_at === null ? {} : { resolvedAt: r.resolved_at }),
  report: JSON.parse(r.report) as DeadlockReport,
});

const toGroup = (r: GroupRow): DeadlockGroup => ({
  signature: r.signature,
  count: r.count,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  latestId: r.latest_id,
  pattern: JSON.parse(r.pattern) as string[],
  services: JSON.parse(r.services) as string[],
});

/** The filters of a list as SQL (the same for the count and the page). */
function where(ns: string, q: EntryQuery, column: { time: string; services: string }): { sql: string; args: unknown[] } {
  const parts = ['namespace = ?'];
  const args: unknown[] = [ns];
  if (q.since !== undefined) {
    parts.push(`${column.time} >= ?`);
    args.push(q.since);
  }
  if (q.service !== undefined) {
    parts.push(`EXISTS (SELECT 1 FROM json_each(${column.services}) WHERE value = ?)`);
    args.push(q.service);
  }
  if (q.signature !== undefined) {
    parts.push('signature = ?');
    args.push(q.signature);
  }
  return { sql: parts.join(' AND '), args };
}

export class HistoryDb {
  private readonly db: Database.Database;
  /** deadlocks that were open when the previous daemon stopped (marked interrupted at open) */
  readonly interruptedAtOpen: number;
  /** what runs before close: one per namespace's history (bounded by the namespaces) */
  private readonly closing: (() => void)[] = [];
  /**
   * Prepared statements by their SQL, made on first use. Preparing parses and plans the SQL:
   * per call it was 4.6 % of the daemon's CPU while deadlocks were recorded back to back. The
   * texts are this file's literals and where()'s filter combinations, so the map stays small.
   */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    db: Database.Database,
    readonly path: string,
  ) {
    this.db = db;
    this.interruptedAtOpen = this.prepare();
  }

  /** Opens (creating it and its directory if needed) the history file at `path`, or an in-memory one for `:memory:`. */
  static open(path: string, o: { busyTimeoutMs?: number } = {}): HistoryDb {
    const where = `--history-file (DEADLOCKD_HISTORY_FILE) "${path}"`;
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      // a daemon still stopping holds the lock for a moment: wait for it, then refuse
      db = new Database(path, { timeout: o.busyTimeoutMs ?? 5_000 });
      return new HistoryDb(db, path);
    } catch (err) {
      db?.close();
      if (err instanceof HistoryFileError) throw err;
      const e = err as Error & { code?: string };
      if (e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_LOCKED')
        throw new HistoryFileError('HISTORY_FILE_BUSY', `${where} is in use by another deadlockd (one daemon per history file)`);
      // it (or its directory) cannot be created or written here: a place problem, not a content problem
      if (CANNOT_CREATE.has(e.code ?? ''))
        throw new HistoryFileError('HISTORY_FILE_UNWRITABLE', `cannot create or write ${where}: ${e.message.split('\n')[0]}`);
      throw new HistoryFileError('HISTORY_FILE_UNUSABLE', `cannot use ${where}: ${e.message.split('\n')[0]}`);
    }
  }

  /** Pragmas, the schema, and the previous daemon's open deadlocks marked interrupted; returns how many. */
  private prepare(): number {
    const db = this.db;
    if (this.path !== ':memory:') {
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION)
      throw new HistoryFileError('HISTORY_FILE_TOO_NEW', `--history-file "${this.path}" was written by a newer deadlockd (schema ${version}, this one knows ${SCHEMA_VERSION})`);
    // the first write takes the exclusive lock (and fails at once if another daemon has it)
    return db.transaction(() => {
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      // the daemon that acted on them is gone: no client will answer for them; what is still
      // blocked comes back in the clients' snapshots and is found again as a new deadlock
      return db.prepare("UPDATE deadlocks SET status = 'interrupted' WHERE status IN ('aborting', 'reordering', 'unresolvable')").run().changes;
    })();
  }

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (st === undefined) this.statements.set(text, (st = this.db.prepare(text)));
    return st;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  insert(e: HistoryEntry, reportJson: string): void {
    const services = JSON.stringify([...new Set(e.report.members.map((m) => m.service))].sort());
    this.sql(
        `INSERT OR REPLACE INTO deadlocks (namespace, id, key, signature, detected_at, status, resolved_at, services, report, bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(e.namespace, e.id, e.key, e.signature, e.detectedAt, e.status, e.resolvedAt ?? null, services, reportJson, reportJson.length);
  }

  /**
   * A change of state (and maybe of report) of a kept entry; `resolvedAt` undefined keeps the one
   * it has, `reportJson` undefined its report.
   */
  update(ns: string, id: string, status: DeadlockStatus, resolvedAt: number | undefined, reportJson: string | undefined): void {
    if (reportJson === undefined) {
      this.sql('UPDATE deadlocks SET status = ?, resolved_at = coalesce(?, resolved_at) WHERE namespace = ? AND id = ?').run(status, resolvedAt ?? null, ns, id);
      return;
    }
    this.sql('UPDATE deadlocks SET status = ?, resolved_at = coalesce(?, resolved_at), report = ?, bytes = ? WHERE namespace = ? AND id = ?')
      .run(status, resolvedAt ?? null, reportJson, reportJson.length, ns, id);
  }

  /** A kept entry's report as the JSON text it was stored as (not parsed), or undefined when it is not kept. */
  reportJsonOf(ns: string, id: string): string | undefined {
    const row = this.sql('SELECT report FROM deadlocks WHERE namespace = ? AND id = ?').get(ns, id) as { report: string } | undefined;
    return row?.report;
  }

  get(ns: string, id: string): HistoryEntry | undefined {
    const row = this.sql('SELECT * FROM deadlocks WHERE namespace = ? AND id = ?').get(ns, id) as EntryRow | undefined;
    return row && toEntry(row);
  }

  /** Entries matching `q`, newest first, and how many match in all. */
  list(ns: string, q: EntryQuery = {}): { total: number; entries: HistoryEntry[] } {
    const w = where(ns, q, { time: 'detected_at', services: 'services' });
    const total = (this.sql(`SELECT count(*) AS n FROM deadlocks WHERE ${w.sql}`).get(...w.args) as { n: number }).n;
    const rows = this.sql(`SELECT * FROM deadlocks WHERE ${w.sql} ORDER BY seq DESC LIMIT ?`).all(...w.args, q.limit ?? -1) as EntryRow[];
    return { total, entries: rows.map(toEntry) };
  }

  totals(ns: string): { count: number; bytes: number } {
    const r = this.sql('SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM deadlocks WHERE namespace = ?').get(ns) as { count: number; bytes: number };
    return r;
  }

  /** The oldest entry: what the bounds drop first. */
  oldest(ns: string): { id: string; bytes: number } | undefined {
    return this.sql('SELECT id, bytes FROM deadlocks WHERE namespace = ? ORDER BY seq LIMIT 1').get(ns) as { id: string; bytes: number } | undefined;
  }

  delete(ns: string, id: string): void {
    this.sql('DELETE FROM deadlocks WHERE namespace = ? AND id = ?').run(ns, id);
  }

  /** Drops the entries detected before `t`; returns how many and what they weighed. */
  deleteDetectedBefore(ns: string, t: number): { count: number; bytes: number } {
    const gone = this.sql('SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM deadlocks WHERE namespace = ? AND detected_at < ?').get(ns, t) as {
      count: number;
      bytes: number;
    };
    if (gone.count > 0) this.sql('DELETE FROM deadlocks WHERE namespace = ? AND detected_at < ?').run(ns, t);
    return gone;
  }

  getGroup(ns: string, signature: string): DeadlockGroup | undefined {
    const row = this.sql('SELECT * FROM deadlock_groups WHERE namespace = ? AND signature = ?').get(ns, signature) as GroupRow | undefined;
    return row && toGroup(row);
  }

  /** Writes a group as seen now (the most recently seen of its namespace). */
  putGroup(ns: string, g: DeadlockGroup): void {
    const seen = (this.sql('SELECT coalesce(max(seen_seq), 0) + 1 AS n FROM deadlock_groups WHERE namespace = ?').get(ns) as { n: number }).n;
    this.sql(
        `INSERT OR REPLACE INTO deadlock_groups (namespace, signature, count, first_seen, last_seen, latest_id, pattern, services, seen_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(ns, g.signature, g.count, g.firstSeen, g.lastSeen, g.latestId, JSON.stringify(g.pattern), JSON.stringify(g.services), seen);
  }

  /** Groups matching `q` (`since`: last seen at or after), the most recently seen first, and how many match. */
  groups(ns: string, q: EntryQuery = {}): { total: number; groups: DeadlockGroup[] } {
    const w = where(ns, q, { time: 'last_seen', services: 'services' });
    const total = (this.sql(`SELECT count(*) AS n FROM deadlock_groups WHERE ${w.sql}`).get(...w.args) as { n: number }).n;
    const rows = this.sql(`SELECT * FROM deadlock_groups WHERE ${w.sql} ORDER BY seen_seq DESC LIMIT ?`).all(...w.args, q.limit ?? -1) as GroupRow[];
    return { total, groups: rows.map(toGroup) };
  }

  /** Drops the groups last seen before `t` (if given), then all but the `max` most recently seen. */
  trimGroups(ns: string, t: number | undefined, max: number): void {
    if (t !== undefined) this.sql('DELETE FROM deadlock_groups WHERE namespace = ? AND last_seen < ?').run(ns, t);
    this.sql('DELETE FROM deadlock_groups WHERE namespace = ? AND seen_seq <= (SELECT seen_seq FROM deadlock_groups WHERE namespace = ? ORDER BY seen_seq DESC LIMIT 1 OFFSET ?)')
      .run(ns, ns, max);
  }

  /** `fn` runs when the file is closed, before it is (a writer with unwritten notes writes them). */
  beforeClose(fn: () => void): void {
    this.closing.push(fn);
  }

  close(): void {
    if (!this.db.open) return;
    for (const fn of this.closing.splice(0)) fn();
    this.db.close();
  }
}
