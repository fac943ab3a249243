// What one poll of PostgreSQL means for the wait-for graph, and the events that move the
// graph from the previous poll's picture to this one. Pure: no I/O.
//
// The source is one client of the namespace; each backend in the picture is one of its owners
// (`b<pid>`). For each backend W that waits for a lock:
//   - W waits (exclusive) for a resource that stands for "the lock W waits for", and every
//     backend pg_blocking_pids(W) names holds it (shared): W can go on only when all of them let
//     go (an rwlock writer waits for every reader);
//   - if an SDK reported W's connection, W holds that connection's `statement` resource: the
//     task running the statement waits for W.
// For each blocker B that sits idle in a transaction (it holds its locks until its app sends
// the next statement), and whose connection an SDK reported, B waits for that connection's
// `connection` resource, which the task that has it checked out holds: B waits for that task.
// So a cycle task A → backend A → backend B → task B → (an app lock) → task A is a cycle of the
// namespace's graph like any other.
import type { ClientEvent, LockMode } from '@deadlockd/proto';
import { describeLock, lockKey, truncate, type LockRow } from './describe.js';

export interface BackendRow extends LockRow {
  pid: number;
  user: string | null;
  application: string | null;
  state: string | null;
  query: string | null;
  /** when the backend's state last changed (idle in transaction since) */
  stateChange: Date | null;
  waitStart: Date | null;
  /** pg_blocking_pids(pid) when it waits for a lock, else null */
  blockers: number[] | null;
}

/** An SDK-reported connection of a backend. */
export interface KnownBackend {
  service: string;
  /** resource names (scope global) declared by the SDK */
  connection?: string | undefined;
  statement?: string | undefined;
  /** the app's call site of the statement now running on it, when the SDK reported it */
  statementStack?: string | undefined;
}

export interface PictureOptions {
  /** owner names carry the query text up to this many characters */
  queryChars: number;
  /** --pg-resolve: database waits may be victims */
  resolve: boolean;
  /** --pg-cancel-unowned: a backend no SDK reported may be a victim (with resolve) */
  cancelUnowned: boolean;
  /** a free name for the resource of one backend's lock wait (reused once the wait ends) */
  lockResource(pid: number): string;
  /** leave this backend's lock wait out of this picture (the source waits for the app's report of its statement) */
  holdBack?(pid: number): boolean;
}

interface OwnerDecl {
  name: string;
  abortable: boolean;
}

interface Edge {
  owner: string;
  resource: string;
  mode?: LockMode;
  since?: number;
  stack?: string;
}

/** The graph one poll describes, keyed for diffing. */
export interface Picture {
  owners: Map<string, OwnerDecl>;
  /** resources this picture uses → their label ('' for the SDK's resources: their label stays theirs) */
  resources: Map<string, { kind: 'rwlock' | 'mutex'; label: string }>;
  holds: Map<string, Edge>;
  waits: Map<string, Edge>;
  /** per waiting backend: who blocks it and the wait's id (for the re-check before a cancel) */
  waiting: Map<number, { waitId: string; blockers: number[]; lock: string }>;
}

export const emptyPicture = (): Picture => ({ owners: new Map(), resources: new Map(), holds: new Map(), waits: new Map(), waiting: new Map() });

/** Victims are taken from the lowest priority: a database wait only when no app wait of the cycle can go. */
const BACKEND_PRIORITY = Number.MAX_SAFE_INTEGER;

const ownerOf = (pid: number): string => `b${pid}`;

export function buildPicture(rows: readonly BackendRow[], known: (pid: number) => KnownBackend | undefined, o: PictureOptions): Picture {
  const p = emptyPicture();
  const byPid = new Map<number, BackendRow>();
  for (const r of rows) if (!byPid.has(r.pid)) byPid.set(r.pid, r);
  const owner = (pid: number): string => {
    const id = ownerOf(pid);
    if (!p.owners.has(id)) {
      const r = byPid.get(pid);
      const k = known(pid);
      const who = k ? k.service : (r?.application || 'no SDK');
      const query = r?.query ? `: ${truncate(r.query, o.queryChars)}` : '';
      p.owners.set(id, {
        name: `backend ${pid} (${who}, user ${r?.user ?? '?'})${query}`,
        abortable: o.resolve && (k !== undefined || o.cancelUnowned),
      });
    }
    return id;
  };
  const use = (name: string, kind: 'rwlock' | 'mutex', label: string): string => {
    p.resources.set(name, { kind, label });
    return name;
  };
  const idleBlockers = new Set<number>();
  for (const r of byPid.values()) {
    if (r.blockers === null || r.blockers.length === 0 || r.locktype === null) continue;
    if (o.holdBack?.(r.pid)) continue;
    const w = owner(r.pid);
    const lock = describeLock(r);
    const res = use(o.lockResource(r.pid), 'rwlock', lock);
    const since = r.waitStart?.getTime();
    const waitId = `l${r.pid}:${lockKey(r)}:${since ?? ''}`;
    // the database wait carries the app's call site of the statement (shown beside it in reports)
    const stack = known(r.pid)?.statementStack;
    p.waits.set(waitId, { owner: w, resource: res, mode: 'exclusive', ...(since !== undefined ? { since } : {}), ...(stack ? { stack } : {}) });
    p.waiting.set(r.pid, { waitId, blockers: [...r.blockers], lock });
    for (const b of r.blockers) {
      const h = owner(b);
      p.holds.set(`${h}\u0000${res}`, { owner: h, resource: res, mode: 'shared' });
      const br = byPid.get(b);
      if (br?.state?.startsWith('idle in transaction')) idleBlockers.add(b);
    }
    const stmt = known(r.pid)?.statement;
    if (stmt !== undefined) p.holds.set(`${w}\u0000${stmt}`, { owner: w, resource: use(stmt, 'mutex', '') });
  }
  for (const b of idleBlockers) {
    const conn = known(b)?.connection;
    if (conn === undefined) continue;
    const since = byPid.get(b)?.stateChange?.getTime();
    p.waits.set(`i${b}:${since ?? ''}`, { owner: owner(b), resource: use(conn, 'mutex', ''), ...(since !== undefined ? { since } : {}) });
  }
  return p;
}

/** The events that turn `prev` into `next`; `declared` (resources declared so far) is updated. */
export function diffPictures(prev: Picture, next: Picture, declared: Map<string, string>): ClientEvent[] {
  const out: ClientEvent[] = [];
  for (const [id, d] of next.owners) {
    const old = prev.owners.get(id);
    if (!old || old.name !== d.name || old.abortable !== d.abortable) {
      out.push({ type: 'owner', owner: id, name: d.name, priority: BACKEND_PRIORITY, abortable: d.abortable });
    }
  }
  for (const [name, r] of next.resources) {
    if (declared.get(name) === r.label) continue;
    declared.set(name, r.label);
    out.push(r.label === '' ? { type: 'resource', resource: name, kind: r.kind, scope: 'global' } : { type: 'resource', resource: name, kind: r.kind, scope: 'global', label: r.label });
  }
  for (const [id] of prev.waits) if (!next.waits.has(id)) out.push({ type: 'cancel', waitId: id });
  for (const [k, h] of prev.holds) {
    if (next.holds.has(k)) continue;
    out.push(h.mode ? { type: 'release', owner: h.owner, resource: h.resource, mode: h.mode } : { type: 'release', owner: h.owner, resource: h.resource });
  }
  for (const [id] of prev.owners) if (!next.owners.has(id)) out.push({ type: 'end', owner: id });
  for (const [k, h] of next.holds) {
    if (prev.holds.has(k) && prev.owners.has(h.owner)) continue;
    out.push(h.mode ? { type: 'hold', owner: h.owner, resource: h.resource, mode: h.mode } : { type: 'hold', owner: h.owner, resource: h.resource });
  }
  for (const [id, w] of next.waits) {
    if (prev.waits.has(id)) continue;
    const ev: ClientEvent = { type: 'wait', waitId: id, owner: w.owner, resource: w.resource };
    if (w.mode) ev.mode = w.mode;
    if (w.since !== undefined) ev.since = w.since;
    if (w.stack !== undefined) ev.stack = w.stack;
    out.push(ev);
  }
  return out;
}
