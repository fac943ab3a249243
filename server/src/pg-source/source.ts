// The PostgreSQL lock source of one watched database: polls pg_stat_activity (every poll, cheap)
// and pg_locks / pg_blocking_pids() (only when some backend waits for a lock), and feeds what
// it sees into the namespace as the events of one daemon-internal client, through the same
// path as an SDK's (state.ts says what the events mean). The engine stays pure.
//
// The source is also that client's connection: the resolver's `confirm` and `abort` frames for
// database waits reach it here.
//   confirm  poll now, then say which of the asked waits are still pending;
//   abort    a database wait is the victim (--pg-resolve): tell the client whose task runs
//            that statement (an `abort` of its statement wait), then cancel the backend.
// An abort of an SDK's statement wait (a victim the resolver sent to the app) is followed here
// too: once the app has answered `aborted`, the backend is cancelled.
// Before every cancel the source re-checks, in the same statement as pg_cancel_backend(), that
// the backend still waits for one of the blockers it was seen waiting for: a view that went
// stale between the poll and the cancel (the blocker committed) cancels nothing.
import type { AbortFrame, ServerFrame } from '@deadlockd/proto';
import type { FastifyBaseLogger } from 'fastify';
import { createRequire } from 'node:module';
import type pg from 'pg';
import type { ClientConnection, Hub } from '../hub.js';
import type { Namespace } from '../namespace.js';
import type { ClientId } from '../engine/types.js';
import { ReportedBackends, type DatabaseIdentity } from './backends.js';
import { buildPicture, diffPictures, emptyPicture, type BackendRow, type Picture } from './state.js';

// pg is loaded by the first source, not at the daemon's start: most daemons watch no database
// (pg and pg-types were ~2 MB of the idle daemon's ~100 MB RSS and ~40 ms of its start here).
// It is CommonJS, so a synchronous require serves the constructor.
const requirePg = (): typeof pg => createRequire(import.meta.url)('pg') as typeof pg;

export interface PgSourceOptions {
  connectionString: string;
  hub: Hub;
  namespace: string;
  log: FastifyBaseLogger;
  pollMs: number;
  resolve: boolean;
  cancelUnowned: boolean;
  queryChars: number;
  /** how long to wait for the app to acknowledge that its statement is the victim */
  answerTimeoutMs: number;
}

/** The cheap part of every poll: who waits for a lock, and for whom. */
const WAITERS_SQL = `select pid, pg_blocking_pids(pid) as blockers from pg_stat_activity
  where wait_event_type = 'Lock' and datname = current_database()`;

/** Details of the waiters and their blockers (only when someone waits). */
const DETAILS_SQL = `with l as materialized (
    select pid, locktype, relation, page, tuple, transactionid, virtualxid, classid, objid, mode, granted, waitstart
    from pg_locks where pid = any($1::int[]) and (not granted or locktype = 'tuple'))
  select a.pid, a.usename as "user", a.application_name as application, a.state, left(a.query, $2) as query,
    a.state_change as "stateChange",
    case when a.wait_event_type = 'Lock' then pg_blocking_pids(a.pid) end as blockers,
    w.locktype, w.relation::regclass::text as relation, w.page, w.tuple, w.transactionid::text as xid, w.virtualxid,
    w.classid::text as classid, w.objid::text as objid, w.mode, w.waitstart as "waitStart",
    t.relation::regclass::text as "rowRelation", t.page as "rowPage", t.tuple as "rowTuple"
  from pg_stat_activity a
  left join l w on w.pid = a.pid and not w.granted
  left join l t on t.pid = a.pid and t.granted and t.locktype = 'tuple' and w.locktype = 'transactionid'
  where a.pid = any($1::int[])`;

/** Cancel only if it still waits for one of these blockers: check and cancel in one statement. */
const CANCEL_SQL = `select case when pg_blocking_pids($1::int) && $2::int[] then pg_cancel_backend($1::int) else false end as cancelled`;

/** poll periods to wait for the SDK's report of a victim backend's statement */
const STATEMENT_REPORT_POLLS = 5;

interface PendingVictim {
  pid: number;
  blockers: number[];
  timer: NodeJS.Timeout;
  /** the source's own abort (a database wait chosen by the resolver) to answer once done */
  own?: { deadlock: string; waitId: string };
}

export interface PgSourceStats {
  polls: number;
  detailPolls: number;
  cancels: number;
  /** cancels not made: the backend no longer waited for the blocker it was seen waiting for */
  staleSkipped: number;
  lastPollMs: number;
}

export class PgSource {
  private readonly pool: pg.Pool;
  private client: ClientId | null = null;
  private readonly conn: ClientConnection = { send: (f) => this.onFrame(f) };
  private backends: ReportedBackends | null = null;
  private picture: Picture = emptyPicture();
  private readonly declared = new Map<string, string>();
  /** lock-wait resources: pid → name, and names free for reuse */
  private readonly lockSlots = new Map<number, string>();
  private readonly freeSlots: string[] = [];
  private slotCount = 0;
  private readonly pending = new Map<string, PendingVictim>();
  /** backends whose lock wait the last poll left out (see holdBack) */
  private heldBack = new Set<number>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private unobserve: (() => void) | null = null;
  private identity: DatabaseIdentity | null = null;
  private readonly counters: PgSourceStats = { polls: 0, detailPolls: 0, cancels: 0, staleSkipped: 0, lastPollMs: 0 };
  private lastError = '';

  constructor(private readonly o: PgSourceOptions) {
    this.pool = new (requirePg().Pool)({ connectionString: o.connectionString, max: 2, application_name: 'deadlockd' });
    // an idle connection that dies (server restart) must not crash the daemon
    this.pool.on('error', (err) => o.log.warn({ err: err.message }, 'postgres source: idle connection error'));
  }

  get stats(): PgSourceStats {
    return { ...this.counters };
  }

  /** Connects, learns the database's identity, joins the namespace, and starts polling. */
  async start(): Promise<void> {
    this.identity = await this.fetchIdentity();
    const ns = this.ns();
    this.backends = new ReportedBackends(
      this.identity,
      (c) => this.o.hub.client(c)?.service,
      (name) => ns.engine.findResource(`g:${name}`) !== undefined,
    );
    this.unobserve = ns.observe({
      backendDeclared: (client, e) => this.backends?.declared(client, e),
      abortSent: (client, frame) => this.abortSent(client, frame),
      abortAnswered: (client, waitId, _d, result) => this.abortAnswered(client, waitId, result),
    });
    const { client } = this.o.hub.attach(
      { service: `postgres:${this.identity.database}`, instance: `deadlockd pg source (${this.identity.database})` },
      this.conn,
      this.o.namespace,
    );
    this.client = client.id;
    this.o.log.info({ namespace: this.o.namespace, database: this.identity.database, client: this.client }, 'postgres source watching');
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.unobserve?.();
    await this.chain.catch(() => {});
    await this.pool.end().catch(() => {});
  }

  /** One poll, after any poll in progress (polls never overlap). */
  poll(): Promise<void> {
    const run = this.chain.then(() => this.pollOnce());
    this.chain = run.catch((err: unknown) => {
      const msg = String((err as Error)?.message ?? err);
      if (msg !== this.lastError) this.o.log.warn({ err: msg }, 'postgres source: poll failed; its database waits leave the graph until a poll succeeds');
      this.lastError = msg;
      // what we cannot see we must not act on: a stale picture could confirm a phantom
      this.publish(emptyPicture());
    });
    return this.chain;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.poll().then(() => this.schedule(this.o.pollMs));
    }, ms);
    this.timer.unref();
  }

  private ns(): Namespace {
    return this.o.hub.namespace(this.o.namespace);
  }

  private async fetchIdentity(): Promise<DatabaseIdentity> {
    const db = (await this.pool.query<{ database: string }>('select current_database() as database')).rows[0]!.database;
    let system = '';
    try {
      system = (await this.pool.query<{ system: string }>('select system_identifier::text as system from pg_control_system()')).rows[0]?.system ?? '';
    } catch {
      // not readable by this role: backends match on pid and database name
    }
    return { database: db, system };
  }

  private async pollOnce(): Promise<void> {
    if (this.stopped || this.client === null || this.backends === null) return;
    const t0 = performance.now();
    this.counters.polls++;
    const waiters = (await this.pool.query<{ pid: number; blockers: number[] }>(WAITERS_SQL)).rows;
    let rows: BackendRow[] = [];
    if (waiters.length > 0) {
      this.counters.detailPolls++;
      const pids = new Set<number>();
      for (const w of waiters) {
        pids.add(w.pid);
        for (const b of w.blockers) pids.add(b);
      }
      rows = (await this.pool.query<BackendRow>(DETAILS_SQL, [[...pids], this.o.queryChars])).rows;
    }
    if (this.stopped) return;
    const backends = this.backends;
    const engine = this.ns().engine;
    const known = (pid: number) => {
      const k = backends.known(pid);
      if (k?.statement === undefined) return k;
      for (const w of engine.findResource(`g:${k.statement}`)?.queue ?? []) if (w.stack) return { ...k, statementStack: w.stack };
      return k;
    };
    const heldBack = new Set<number>();
    const next = buildPicture(rows, known, {
      queryChars: this.o.queryChars,
      resolve: this.o.resolve,
      cancelUnowned: this.o.cancelUnowned,
      lockResource: (pid) => this.slotFor(pid),
      // A lock wait of an SDK's connection seen before the SDK's report of its statement arrived
      // waits one poll for it: the database wait then carries the app's call site.
      holdBack: (pid) => {
        if (this.picture.waiting.has(pid) || this.heldBack.has(pid)) return false;
        const k = known(pid);
        if (k?.statement === undefined || k.statementStack !== undefined) return false;
        heldBack.add(pid);
        return true;
      },
    });
    this.heldBack = heldBack;
    for (const [pid, name] of this.lockSlots) {
      if (next.waiting.has(pid)) continue; // (a failed poll keeps its slots: their names are reused only once free)
      this.lockSlots.delete(pid);
      this.freeSlots.push(name);
    }
    this.publish(next);
    this.lastError = '';
    this.counters.lastPollMs = performance.now() - t0;
  }

  /** Moves the namespace's view of this database to `next`. */
  private publish(next: Picture): void {
    if (this.client === null || this.stopped) return;
    // the namespace is in the middle of a search: the picture is published by a later poll
    if (this.o.hub.busy(this.client)) return;
    const events = diffPictures(this.picture, next, this.declared);
    this.picture = next;
    if (events.length === 0) return;
    const r = this.o.hub.events(this.client, events);
    for (const e of r.errors) this.o.log.warn({ code: e.code, event: events[e.index], message: e.message }, 'postgres source: event rejected');
  }

  private slotFor(pid: number): string {
    let name = this.lockSlots.get(pid);
    if (name === undefined) {
      name = this.freeSlots.pop() ?? `postgres:${this.identity?.database}:${this.client}:lock-wait#${++this.slotCount}`;
      this.lockSlots.set(pid, name);
    }
    return name;
  }

  // ---- frames for the source's own client -----------------------------------------------

  private onFrame(frame: ServerFrame): void {
    // frames arrive while the namespace is handling our own events: answer later, never re-enter
    if (frame.type === 'confirm') {
      setImmediate(() => void this.poll().then(() => this.answerConfirm(frame.check, frame.waits)));
    } else if (frame.type === 'abort') {
      setImmediate(() => this.ownAbort(frame));
    }
  }

  private answerConfirm(check: string, waits: string[]): void {
    if (this.client === null || this.stopped) return;
    this.o.hub.confirmAnswered(this.client, check, waits.filter((w) => this.picture.waits.has(w)));
  }

  /** The resolver chose a database wait of ours (possible with --pg-resolve only). */
  private ownAbort(frame: AbortFrame): void {
    const pid = this.pidOfWait(frame.waitId);
    const waiting = pid === undefined ? undefined : this.picture.waiting.get(pid);
    if (pid === undefined || waiting === undefined || waiting.waitId !== frame.waitId) {
      this.answerOwn({ deadlock: frame.deadlock, waitId: frame.waitId }, 'stale');
      return;
    }
    void this.abortDatabaseWait(frame, pid, waiting.blockers);
  }

  private async abortDatabaseWait(frame: AbortFrame, pid: number, blockers: number[]): Promise<void> {
    const own = { deadlock: frame.deadlock, waitId: frame.waitId };
    // The task that runs the statement hears it is the victim first, then the backend is
    // cancelled. Its statement wait may still be on its way (the poll can see a lock wait before
    // the SDK's report of the statement arrives): give it a few poll periods.
    let stmt = this.statementWaitOf(pid);
    for (let i = 0; stmt === undefined && i < STATEMENT_REPORT_POLLS && this.backends?.known(pid) !== undefined; i++) {
      await new Promise((r) => setTimeout(r, this.o.pollMs));
      stmt = this.statementWaitOf(pid);
    }
    if (stmt === undefined) {
      // a statement no client reported is cancelled only with --pg-cancel-unowned (its app
      // would get a plain 57014, not a DeadlockError); otherwise choose again without it
      if (this.o.cancelUnowned) await this.cancel(pid, blockers, own);
      else this.answerOwn(own, 'expired');
      return;
    }
    this.track(stmt.client, stmt.waitId, pid, blockers, own);
    // same deadline as ours: an app that could only carry it out late refuses it (`expired`)
    const expiresAt = frame.expiresAt === undefined ? {} : { expiresAt: frame.expiresAt };
    this.o.hub.send(stmt.client, { type: 'abort', deadlock: frame.deadlock, owner: stmt.owner, waitId: stmt.waitId, report: frame.report, ...expiresAt });
  }

  private pidOfWait(waitId: string): number | undefined {
    const m = /^l(\d+):/.exec(waitId);
    return m ? Number(m[1]) : undefined;
  }

  /** The SDK's pending statement wait on this backend, if one is in the graph. */
  private statementWaitOf(pid: number): { client: ClientId; owner: string; waitId: string } | undefined {
    const name = this.backends?.known(pid)?.statement;
    const r = name === undefined ? undefined : this.ns().engine.findResource(`g:${name}`);
    for (const w of r?.queue ?? []) return { client: w.owner.client.info.id, owner: w.owner.id, waitId: w.id };
    return undefined;
  }

  // ---- aborts of statement waits --------------------------------------------------------

  /** An abort is on its way to an app: if its wait is a statement on a waiting backend, follow it. */
  private abortSent(client: ClientId, frame: AbortFrame): void {
    if (client === this.client || this.pending.has(key(client, frame.waitId))) return;
    const w = this.ns().engine.wait({ client, waitId: frame.waitId });
    const pid = w ? this.backends?.statementPid(w.resource.name) : undefined;
    const waiting = pid === undefined ? undefined : this.picture.waiting.get(pid);
    if (pid === undefined || waiting === undefined) return;
    this.track(client, frame.waitId, pid, waiting.blockers);
  }

  private track(client: ClientId, waitId: string, pid: number, blockers: number[], own?: PendingVictim['own']): void {
    const k = key(client, waitId);
    const timer = setTimeout(() => {
      // the app never acknowledged: nothing is cancelled; our own abort expires (the resolver re-decides)
      this.pending.delete(k);
      if (own) this.answerOwn(own, 'expired');
    }, this.o.answerTimeoutMs);
    timer.unref();
    this.pending.set(k, { pid, blockers, timer, ...(own ? { own } : {}) });
  }

  private abortAnswered(client: ClientId, waitId: string, result: 'aborted' | 'stale' | 'expired'): void {
    const k = key(client, waitId);
    const p = this.pending.get(k);
    if (!p) return;
    this.pending.delete(k);
    clearTimeout(p.timer);
    if (result === 'aborted') void this.cancel(p.pid, p.blockers, p.own);
    else if (p.own) {
      const own = p.own;
      void this.poll().then(() => this.answerOwn(own, result === 'expired' ? 'expired' : 'stale'));
    }
  }

  /** Cancel the backend's statement if it still waits for one of `blockers`; poll right after. */
  private async cancel(pid: number, blockers: number[], own?: PendingVictim['own']): Promise<void> {
    let cancelled = false;
    let failed = false;
    try {
      cancelled = (await this.pool.query<{ cancelled: boolean }>(CANCEL_SQL, [pid, blockers])).rows[0]?.cancelled === true;
    } catch (err) {
      failed = true;
      this.o.log.warn({ pid, err: String((err as Error)?.message ?? err) }, 'postgres source: cancel failed (does the role have pg_signal_backend? a superuser backend cannot be cancelled by it)');
    }
    if (cancelled) this.counters.cancels++;
    else if (!failed) this.counters.staleSkipped++;
    if (!failed) this.o.log.info({ pid, blockers, cancelled }, cancelled ? 'postgres source: cancelled the victim backend' : 'postgres source: victim no longer waits for its blocker; nothing cancelled');
    await this.poll();
    // a cancel that failed will fail again: the resolver chooses again without this backend
    if (own) this.answerOwn(own, cancelled ? 'aborted' : failed ? 'expired' : 'stale');
  }

  private answerOwn(own: { deadlock: string; waitId: string }, result: 'aborted' | 'stale' | 'expired'): void {
    if (this.client === null || this.stopped) return;
    this.o.hub.abortAnswered(this.client, own.waitId, own.deadlock, result);
  }
}

const key = (client: ClientId, waitId: string): string => `${client}\u0000${waitId}`;
