// One namespace: its engine (the graph and the search), its deadlock book
// (what was found, until it ends), the resolver (policy: confirm rounds,
// aborts, deadlines), the history and the hazard announcements. Nothing
// crosses a namespace. Every call from a client goes the same one way:
//   engine call → book.take (ends what the engine says ended, keeps what is new)
//   → resolver.handle (acts on the new ones through the book).
//
// A search that takes longer than --search-slice-ms (a ring of thousands of
// owners closing) goes on in slices, one per turn of the event loop, so that
// other namespaces, the REST API and the heartbeats are served in between.
// Until it ends this namespace's graph must not change: whatever would change
// it waits in `whenIdle` (the sessions hold their clients' frames, the
// resolver its deadlines, the hub a removal), and the sweep skips it. Reads
// (REST, dashboard, metrics) go on; they see the graph as it was searched.
//
// A slice is the namespace's share of one turn of the event loop, not of one
// call: the rest of a search, its outcome and the frames that waited for it
// all come out of the same slice, and what does not fit goes on after the
// loop has next read its sockets (after-poll.ts). So a ping waits for one
// slice at most, not for a slice and then every held frame's own.
import type { FastifyBaseLogger } from 'fastify';
import type { AbortFrame, ClientEvent, Hazard, ResourceEvent, ServerFrame } from '@deadlockd/proto';
import { engineLimits, type Config } from './config.js';
import { DeadlockBook, type BookEntry, type OpenState } from './engine/book.js';
import { Engine, type EngineResult, type Found } from './engine/engine.js';
import { runToEnd, runUntil, type Steps } from './engine/steps.js';
import { afterPoll } from './after-poll.js';
import type { BatchResult, ClientId, ClientInfo, Deadlock, GraphStats, OwnerRef } from './engine/types.js';
import { DeadlockHistory } from './history.js';
import type { HistoryDb } from './history-store/history-db.js';
import { oldestWaitSince } from './engine/long-waits.js';
import { LongWaitLog } from './long-wait-log.js';
import type { Metrics } from './metrics.js';
import { Resolver } from './resolver.js';
import type { NamespaceResolverStats } from './stats.js';

export interface NamespaceOptions {
  name: string;
  config: Config;
  log: FastifyBaseLogger;
  metrics: Metrics;
  now: () => number;
  /** delivers a frame to a client; dropped if it is not connected */
  send: (client: ClientId, frame: ServerFrame) => void;
  /** the clients of this namespace now (for hazard announcements) */
  clients: () => Iterable<ClientInfo>;
  /** whether a client has a live connection (not in its grace period) */
  connected: (client: ClientId) => boolean;
  /** the history file, shared by the daemon's namespaces */
  historyDb: HistoryDb;
}

/**
 * Watches a namespace's traffic without changing it: the PostgreSQL source (pg-source/) learns
 * the backends SDKs declare and follows the aborts of statement waits, which it resolves by
 * cancelling the backend.
 */
export interface NamespaceObserver {
  /** a client declared a resource that names a PostgreSQL backend (`backend` set) */
  backendDeclared?(client: ClientId, e: ResourceEvent): void;
  /** an abort is being sent (the victim's wait is still in the engine) */
  abortSent?(client: ClientId, frame: AbortFrame): void;
  abortAnswered?(client: ClientId, waitId: string, deadlock: string, result: 'aborted' | 'stale' | 'expired'): void;
}

/** A deadlock that is open in the book, as REST and the dashboard show it. */
export interface CurrentDeadlock {
  deadlock: Deadlock;
  status: OpenState;
}

/** what runs in slices (for the log when one fails) */
type SlicedWork = 'search' | 'sweep' | 'read' | 'remove' | 'snapshot';

export class Namespace {
  readonly name: string;
  readonly engine: Engine;
  readonly book: DeadlockBook;
  readonly history: DeadlockHistory;
  private readonly resolver: Resolver;
  private readonly observers: NamespaceObserver[] = [];
  /** --log-waits-after-ms: null when off */
  private readonly longWaitLog: LongWaitLog | null;
  /** the search going on in slices, if one is (or the waiting work it held back, still being handled) */
  private searching: { startedAt: number } | undefined;
  /** what waits for the search to end, in arrival order */
  private readonly idle: (() => void)[] = [];
  /** where the current slice ends (performance.now()) */
  private sliceEnd = 0;
  /** in a turn of a search's slices: whatever runs now shares that slice (slice()) */
  private inTurn = false;
  private readonly shouldYield = (): boolean => performance.now() > this.sliceEnd;

  constructor(private readonly o: NamespaceOptions) {
    const c = o.config;
    this.name = o.name;
    this.engine = new Engine({
      namespace: o.name,
      now: o.now,
      victimOrder: c.victimOrder,
      limits: engineLimits(c),
    });
    this.history = new DeadlockHistory(c.historySize, o.name, c.maxHistoryBytes, {
      db: o.historyDb,
      maxAgeMs: c.historyMaxAgeMs,
      now: o.now,
      onError: (err, what) => o.log.error({ err, namespace: o.name, what }, 'history write failed (the deadlock is handled, its record is not kept)'),
    });
    this.longWaitLog =
      c.logWaitsAfterMs > 0
        ? new LongWaitLog({ namespace: o.name, engine: this.engine, log: o.log, now: o.now, afterMs: c.logWaitsAfterMs, maxChain: c.maxWaitChain, perSecond: c.maxWaitLogsPerSecond })
        : null;
    this.book = new DeadlockBook(this.engine, o.now, { changed: (e) => this.changed(e) });
    this.resolver = new Resolver({
      engine: this.engine,
      book: this.book,
      namespace: o.name,
      send: (client, frame) => {
        if (frame.type === 'abort') for (const ob of this.observers) ob.abortSent?.(client, frame);
        o.send(client, frame);
      },
      connected: o.connected,
      log: o.log,
      now: o.now,
      confirmTimeoutMs: c.confirmTimeoutMs,
      confirmRounds: c.confirmRounds,
      abortTimeoutMs: c.abortTimeoutMs,
      abortAnswerMarginMs: c.abortAnswerMarginMs,
      whenIdle: (fn) => this.whenIdle(fn),
      search: (members, unabortable, done) => this.searchInSlices(members, unabortable, done),
      onResolved: (ms) => o.metrics.deadlockResolved(ms),
    });
  }

  /** A re-decision's search (resolver.ts), in slices like a batch's. */
  private searchInSlices(members: readonly OwnerRef[], unabortable: ReadonlySet<string>, done: (found: Found[]) => void): void {
    this.whenIdle(() => this.run(this.engine.searchSteps(members, unabortable), 'search', (found) => done(found ?? [])));
  }

  /** A search is going on in slices: the graph must not change (see the header). */
  get busy(): boolean {
    return this.searching !== undefined;
  }

  /** Runs `fn` now, or once the search going on has ended (in the order asked). */
  whenIdle(fn: () => void): void {
    if (this.searching === undefined) fn();
    else this.idle.push(fn);
  }

  /**
   * the yield predicate of this turn's slice (a new one, from `now`, unless a turn of slices is
   * going on), or undefined when slicing is off
   */
  private slice(now?: number): (() => boolean) | undefined {
    if (this.o.config.searchSliceMs === 0) return undefined;
    if (!this.inTurn) this.sliceEnd = (now ?? performance.now()) + this.o.config.searchSliceMs;
    return this.shouldYield;
  }

  /** Runs `fn` as one turn's work: a new slice, shared by all it calls. */
  private turn(fn: () => void): void {
    this.sliceEnd = performance.now() + this.o.config.searchSliceMs;
    this.inTurn = true;
    try {
      fn();
    } finally {
      this.inTurn = false;
    }
  }

  private notBusy(what: string): void {
    if (this.searching !== undefined) throw new Error(`namespace '${this.name}': ${what} while a search is going on (wait with whenIdle)`);
  }

  addClient(info: ClientInfo): void {
    this.engine.addClient(info);
  }

  /** Adds an observer; returns the function that removes it. */
  observe(ob: NamespaceObserver): () => void {
    this.observers.push(ob);
    return () => {
      const i = this.observers.indexOf(ob);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  private notifyDeclared(client: ClientId, events: ClientEvent[]): void {
    for (const e of events) if (e.type === 'resource' && e.backend !== undefined) for (const ob of this.observers) ob.backendDeclared?.(client, e);
  }

  /** Applies a client's batch (not while busy: see whenIdle). */
  events(client: ClientId, events: ClientEvent[]): BatchResult {
    this.notBusy('a batch');
    if (this.observers.length > 0) this.notifyDeclared(client, events);
    this.o.metrics.eventsIn(events.length);
    const t0 = performance.now(); // also where the slice begins: one clock reading fewer per frame
    const r = this.engine.applyBatch(client, events, this.slice(t0));
    this.o.metrics.batchApplied(performance.now() - t0);
    this.longWaitLog?.noteWaits(r.added);
    return this.after(r, t0);
  }

  /**
   * A client's snapshot after reconnecting: its whole state is replaced, atomically (in slices,
   * as a search: the namespace holds every other change until it ends). `done` gets what was
   * rejected, at once or after the last slice.
   */
  snapshot(client: ClientId, events: ClientEvent[], done: (r: BatchResult) => void): void {
    this.notBusy('a snapshot');
    if (this.observers.length > 0) this.notifyDeclared(client, events);
    this.o.metrics.eventsIn(events.length);
    this.run(this.engine.replaceClientStateSteps(client, events), 'snapshot', (r) => {
      if (r === undefined) return done({ errors: [] }); // failed in a slice: logged, the sweep looks again
      this.longWaitLog?.noteWaits(r.added);
      done(this.after(r));
    });
  }

  abortAnswered(client: ClientId, waitId: string, deadlock: string, result: 'aborted' | 'stale' | 'expired'): void {
    this.whenIdle(() => {
      if (result === 'stale') this.o.metrics.staleAborts.inc();
      this.resolver.abortAnswered(client, waitId, deadlock, result);
      for (const ob of this.observers) ob.abortAnswered?.(client, waitId, deadlock, result);
    });
  }

  confirmAnswered(client: ClientId, check: string, pending: string[]): void {
    this.whenIdle(() => this.resolver.confirmAnswered(client, check, pending));
  }

  /** The client is gone for good: its owners leave the graph; what is left of its deadlocks may still be one. */
  removeClient(client: ClientId): void {
    // in slices, as a search: a client with 50,000 holds took 100 ms to drop
    this.whenIdle(() =>
      this.run(this.engine.removeClientSteps(client), 'remove', (r) => {
        this.resolver.clientRemoved(client);
        if (r) this.after(r);
      }),
    );
  }

  /** The safety net over this namespace, in one pass (skipped while a search is going on: the next one looks). */
  sweep(): { found: number; missed: number } {
    if (this.searching !== undefined) return { found: 0, missed: 0 };
    return this.swept(this.book.sweep());
  }

  /**
   * The same in slices, as a batch's search (the periodic sweep: 20,000 blocked owners were a
   * 50 ms pass); `done` is called when it ended (at once when skipped or finished in one slice).
   */
  sweepInSlices(done: (r: { found: number; missed: number }) => void): void {
    if (this.searching !== undefined) return done({ found: 0, missed: 0 });
    this.run(this.book.sweepSteps(), 'sweep', (r) => done(this.swept(r ?? { found: [], missed: 0 })));
  }

  /**
   * A read of the graph in slices (a capture for GET /v1/graph): it starts once no search is going
   * on and holds the namespace's changes while it runs, as a search does, so that it sees one graph.
   */
  read<T>(steps: Steps<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.whenIdle(() => {
        try {
          // its reader goes on (serializing, in slices of its own) after a poll, not in the capture's last slice
          const settle = (value: T | undefined) => afterPoll(() => (value === undefined ? reject(new Error('the graph read failed (see the log)')) : resolve(value)));
          this.run(steps, 'read', settle);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
  }

  private swept(r: { found: Found[]; missed: number }): { found: number; missed: number } {
    this.resolver.handle(r.found);
    return { found: r.found.length, missed: r.missed };
  }

  /** Open deadlocks, oldest first. */
  current(): CurrentDeadlock[] {
    const out: CurrentDeadlock[] = [];
    for (const e of this.book.current()) if (e.state !== 'resolved' && e.state !== 'dismissed') out.push({ deadlock: e.deadlock, status: e.state });
    return out;
  }

  graphStats(): GraphStats {
    return { ...this.engine.stats(), activeDeadlocks: this.book.size };
  }

  resolverStats(): NamespaceResolverStats {
    return this.resolver.stats();
  }

  /** How long the oldest pending wait has waited, in seconds (0 when nothing waits). */
  oldestWaitSeconds(): number {
    const since = oldestWaitSince(this.engine);
    return since === undefined ? 0 : Math.max(0, this.o.now() - since) / 1000;
  }

  stop(): void {
    this.longWaitLog?.stop();
    this.resolver.stop();
    this.searching = undefined; // a slice still scheduled finds it so and does nothing
    this.idle.length = 0;
  }

  /** `startedAt`: when the batch began (performance.now), for the time to a found deadlock's first action */
  private after(r: EngineResult, startedAt?: number): BatchResult {
    // Nearly every batch found nothing and ended no deadlock: no intake to run (hot path).
    // Otherwise the book's intake goes on in the slice the batch began (its search again after
    // a big deadlock ended is as big as the search that found it).
    if (r.pending !== undefined || r.found.length > 0 || r.ended.length > 0)
      this.run(this.book.takeSteps(r), 'search', (found) => this.resolver.handle(found ?? [], startedAt), this.o.config.searchSliceMs === 0 ? undefined : this.shouldYield);
    for (const h of r.hazards) this.announceHazard(h);
    return { errors: r.errors };
  }

  /**
   * Runs `steps` from now: to its end at once when slicing is off (`stop` undefined), else until
   * `stop` and on in slices (inSlices). `finish` gets its value (undefined if it failed).
   * Only while not busy (whenIdle).
   */
  private run<T>(steps: Steps<T>, what: SlicedWork, finish: (value: T | undefined) => void, stop = this.slice()): void {
    // a failure in this first part is the caller's (a batch's answers INTERNAL); in the slices, inSlices logs it
    const first = stop === undefined ? { done: true as const, value: runToEnd(steps) } : runUntil(steps, stop);
    if (first.done) return finish(first.value);
    this.inSlices(steps, what, finish);
  }

  /**
   * A search (or sweep) that did not end in its slice: the next slice after the next poll, until
   * it ends; then `finish` (with undefined if it failed), then what waited for it (drainIdle),
   * all in the same slice.
   */
  private inSlices<T>(steps: Steps<T>, what: SlicedWork, finish: (value: T | undefined) => void): void {
    const s = { startedAt: performance.now() };
    const step = (): void => {
      if (this.searching !== s) return; // stopped
      this.turn(() => {
        let value: T | undefined;
        try {
          const r = runUntil(steps, this.shouldYield);
          if (!r.done) return afterPoll(step);
          value = r.value;
        } catch (err) {
          this.o.log.error({ err, namespace: this.name, what }, 'deadlock search failed (the sweep will look again)');
        }
        this.searching = undefined;
        if (what === 'search') this.o.metrics.searchSliced(performance.now() - s.startedAt);
        finish(value);
        this.drainIdle();
      });
    };
    this.searching = s;
    afterPoll(step);
  }

  /**
   * What waited for a search, in order, until one of them starts a search of its own; when the
   * slice is spent first, the rest goes on after a poll, the namespace busy until then (so that
   * what arrives meanwhile still queues behind it).
   */
  private drainIdle(): void {
    while (this.searching === undefined && this.idle.length > 0) {
      if (this.shouldYield()) {
        const s = { startedAt: performance.now() };
        this.searching = s;
        return afterPoll(() => {
          if (this.searching !== s) return; // stopped
          this.searching = undefined;
          this.turn(() => this.drainIdle());
        });
      }
      const fn = this.idle.shift() as () => void;
      try {
        fn();
      } catch (err) {
        this.o.log.error({ err, namespace: this.name }, 'handling what waited for a search failed');
      }
    }
  }

  private changed(e: BookEntry): void {
    if (e.acted) this.history.record(e);
    if (e.endedAt !== undefined) this.resolver?.ended(e);
  }

  /** A hazard was found or gained a site: log it, tell every client that contributed a site. */
  private announceHazard(hazard: Hazard): void {
    this.o.log.warn({ namespace: this.name, hazard: hazard.id, kind: hazard.kind, text: hazard.text }, 'deadlock hazard');
    const sites = new Set(hazard.sites.map((s) => `${s.service}\u0000${s.instance}`));
    for (const c of this.o.clients()) if (sites.has(`${c.service}\u0000${c.instance}`)) this.o.send(c.id, { type: 'hazard', hazard });
  }
}
