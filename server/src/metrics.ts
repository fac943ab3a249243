// Prometheus metrics on the daemon's own registry (never prom-client's global
// one, so two daemons in one process — tests, the bench — do not collide).
// Counters the hub and resolvers already keep are read at scrape time;
// gauges are set in collect(), not on a timer. Labels stay bounded: the
// namespace (one per configured token) and the error code (a fixed list).
//
// Who sees what: the whole registry is for an operator (auth off, or the
// --metrics-token); a namespace's token sees only its namespace's series
// (namespaceText), never another namespace's name or size.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CountedHistogram } from './counted-histogram.js';
import type { ErrorCode } from '@deadlockd/proto';
import type { HubStats, StatsSource } from './stats.js';
import { LoopStall } from './loop-stall.js';

/** What metrics read of a PostgreSQL lock source (pg-source/source.ts PgSourceStats). */
interface PgSourceCounts {
  polls: number;
  cancels: number;
  staleSkipped: number;
  lastPollMs: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly eventsReceived: Counter;
  readonly framesRejected: Counter<'code'>;
  readonly staleAborts: Counter;
  readonly batchDuration: CountedHistogram;
  readonly sweepDuration: Histogram;
  readonly slicedSearches: Histogram;
  readonly resolutions: Histogram;
  readonly errorsSuppressed: Counter;
  readonly connectionsCut: Counter<'reason'>;
  private readonly loopStall = new LoopStall();
  private snapshotInFlight: () => number = () => 0;
  private pgSources: () => readonly PgSourceCounts[] = () => [];
  private oldestWaits: () => ReadonlyMap<string, number> = () => new Map();
  /** events counted since the last scrape; added to eventsReceived in its collect() (one inc per scrape, not per frame) */
  private eventsPending = 0;

  /** Events received in a frame (per-frame hot path: a plain addition, read at scrape time). */
  eventsIn(n: number): void {
    this.eventsPending += n;
  }

  /** One events frame applied in `ms` milliseconds (performance.now(): no timer closure per frame). */
  batchApplied(ms: number): void {
    this.batchDuration.observe(ms / 1000);
  }

  /** A search done in slices ended, `ms` after its batch (namespace.ts). */
  /** from the frame whose batch found a deadlock to the daemon's first action on it */
  deadlockResolved(ms: number): void {
    this.resolutions.observe(ms / 1000);
  }

  searchSliced(ms: number): void {
    this.slicedSearches.observe(ms / 1000);
  }

  /**
   * `source` is read at scrape time (the hub, built after the metrics it is handed).
   * `namespaces`: the ones configured (the tokens' namespaces, or `default` with auth off); their
   * per-namespace counters are exposed at 0 from the start, before the hub first meets them.
   */
  constructor(
    private readonly source: () => StatsSource,
    namespaces: readonly string[] = [],
  ) {
    const stats = (): HubStats => this.source().stats();
    const registers = [this.registry];
    // process_* and nodejs_* under their standard names (what Node.js dashboards query), event loop lag included
    // (nodejs_eventloop_lag_p99_seconds, _max_seconds: since the previous scrape)
    collectDefaultMetrics({ register: this.registry });
    // The stall detector operators alert on: one number, no labels, shown once per stall.
    // (prom-client's nodejs_eventloop_lag_* are percentiles of the loop's delay, not reset per scrape.)
    const stall = this.loopStall;
    new Gauge({
      name: 'deadlockd_event_loop_lag_seconds',
      help: 'the longest event-loop delay since the previous scrape (a stall: one frame, report or request that ran long)',
      registers,
      collect() {
        this.set(stall.takeWorstMs() / 1000);
      },
    });
    const takePending = (): number => {
      const n = this.eventsPending;
      this.eventsPending = 0;
      return n;
    };
    this.eventsReceived = new Counter({
      name: 'deadlockd_events_received_total',
      help: 'events received from clients (in events and snapshot frames)',
      registers,
      collect() {
        const n = takePending();
        if (n > 0) this.inc(n);
      },
    });
    this.framesRejected = new Counter({ name: 'deadlockd_errors_sent_total', help: 'error frames sent to clients, by code', labelNames: ['code'], registers });
    this.staleAborts = new Counter({ name: 'deadlockd_aborts_stale_total', help: 'aborts a client answered `stale` (the wait had already ended)', registers });
    // once per events frame: counted without prom-client's per-call label handling (counted-histogram.ts)
    this.batchDuration = new CountedHistogram(
      'deadlockd_batch_duration_seconds',
      'time to apply one events frame to the graph, deadlock search included',
      [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1],
      this.registry,
    );
    this.sweepDuration = new Histogram({
      name: 'deadlockd_sweep_duration_seconds',
      help: 'time of one full safety-net sweep over every namespace',
      buckets: [1e-4, 1e-3, 1e-2, 0.1, 1, 10],
      registers,
    });

    this.resolutions = new Histogram({
      name: 'deadlockd_resolution_seconds',
      help: 'from the frame whose batch closed a deadlock to the first abort (or reorder, or unresolvable report) sent for it: search, confirm round and choice',
      buckets: [2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });

    this.slicedSearches = new Histogram({
      name: 'deadlockd_sliced_search_duration_seconds',
      help: 'searches longer than --search-slice-ms, done in slices while their namespace waited: time from the batch to the end',
      buckets: [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30],
      registers,
    });

    this.errorsSuppressed = new Counter({
      name: 'deadlockd_errors_suppressed_total',
      help: 'error frames not sent because a connection was over --max-error-frames-per-second (counted in ERRORS_SUPPRESSED)',
      registers,
    });
    this.connectionsCut = new Counter({
      name: 'deadlockd_connections_cut_total',
      help: 'SDK connections the daemon closed for hitting a limit: slow_consumer, hello_timeout, snapshot_timeout',
      labelNames: ['reason'],
      registers,
    });
    // The PostgreSQL lock sources (--watch-postgres), summed over the watched databases.
    const pgSum = (k: 'polls' | 'cancels' | 'staleSkipped') => this.pgSources().reduce((n, s) => n + s[k], 0);
    const pgCounter = (name: string, help: string, k: 'polls' | 'cancels' | 'staleSkipped') => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const now = pgSum(k);
          if (now > seen) this.inc(now - seen);
          seen = now;
        },
      });
    };
    pgCounter('deadlockd_pg_polls_total', 'polls of the watched PostgreSQL databases (pg_stat_activity)', 'polls');
    pgCounter('deadlockd_pg_cancels_total', 'pg_cancel_backend calls made for database-wait victims', 'cancels');
    pgCounter('deadlockd_pg_stale_cancels_skipped_total', 'cancels not made: the victim backend no longer waited for the blocker it was seen waiting for', 'staleSkipped');
    const pgSources = () => this.pgSources();
    new Gauge({
      name: 'deadlockd_pg_last_poll_seconds',
      help: 'how long the latest poll of each watched database took (the longest of them)',
      registers,
      collect() {
        this.set(Math.max(0, ...pgSources().map((s) => s.lastPollMs)) / 1000);
      },
    });
    const inFlight = () => this.snapshotInFlight();
    new Gauge({
      name: 'deadlockd_snapshot_events_in_flight',
      help: 'events of unfinished snapshots held, all connections together (limit --max-snapshot-events-in-flight)',
      registers,
      collect() {
        this.set(inFlight());
      },
    });

    // Monotonic totals kept by the hub/resolvers, exposed as counters at scrape time.
    const fromStats = (name: string, help: string, read: (h: HubStats) => number) => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const now = read(stats());
          if (now > seen) this.inc(now - seen);
          seen = now;
        },
      });
    };
    // The resolvers' totals, one series per namespace (the same series a namespace's token sees).
    const perNamespace = (name: string, help: string, k: 'resolved' | 'abortsSent' | 'unresolvable' | 'confirmRoundsStarted' | 'confirmTimeouts' | 'abortTimeouts' | 'vanished') => {
      const seen = new Map<string, number>();
      new Counter({
        name,
        help,
        labelNames: ['namespace'],
        registers,
        collect() {
          const live = stats().namespaces;
          for (const namespace of new Set([...namespaces, ...Object.keys(live)])) {
            const now = live[namespace]?.resolver[k] ?? 0;
            let before = seen.get(namespace);
            if (before === undefined) {
              // the series starts at 0, so rate() and increase() see the namespace's first deadlock
              this.inc({ namespace }, 0);
              before = 0;
            }
            if (now > before) this.inc({ namespace }, now - before);
            seen.set(namespace, now);
          }
        },
      });
    };
    perNamespace('deadlockd_deadlocks_detected_total', 'deadlocks detected and acted on (aborted or reported)', 'resolved');
    perNamespace('deadlockd_deadlocks_unresolvable_total', 'deadlocks with no abortable member (reported only)', 'unresolvable');
    perNamespace('deadlockd_aborts_sent_total', 'abort frames sent to victims', 'abortsSent');
    perNamespace('deadlockd_confirm_rounds_total', 'confirm rounds started for cross-client deadlocks', 'confirmRoundsStarted');
    perNamespace('deadlockd_confirm_timeouts_total', 'confirm rounds that timed out', 'confirmTimeouts');
    perNamespace('deadlockd_abort_timeouts_total', 'victims that did not carry out their abort before it expired (the deadlock was re-decided without them)', 'abortTimeouts');
    perNamespace('deadlockd_phantoms_avoided_total', 'cross-client deadlocks that vanished after confirmation (a stale view, nobody aborted)', 'vanished');
    fromStats('deadlockd_sweeps_total', 'full safety-net sweeps run', (h) => h.sweeps);
    fromStats('deadlockd_sweep_missed_total', 'deadlocks the sweep found that incremental detection missed (0 in a correct build)', (h) => h.missed);

    const graphGauge = (name: string, help: string, key: 'owners' | 'resources' | 'holds' | 'waits' | 'activeDeadlocks') =>
      new Gauge({
        name,
        help,
        labelNames: ['namespace'],
        registers,
        collect() {
          this.reset();
          for (const [ns, s] of Object.entries(stats().namespaces)) this.set({ namespace: ns }, s.graph[key]);
        },
      });
    graphGauge('deadlockd_owners', 'owners (tasks) in the graph', 'owners');
    graphGauge('deadlockd_resources', 'resources in the graph', 'resources');
    graphGauge('deadlockd_holds', 'live holds', 'holds');
    graphGauge('deadlockd_waits', 'pending waits', 'waits');
    graphGauge('deadlockd_active_deadlocks', 'deadlocks found and not yet over', 'activeDeadlocks');
    const oldestWaits = () => this.oldestWaits();
    new Gauge({
      name: 'deadlockd_oldest_wait_seconds',
      help: 'how long the oldest pending wait of each namespace has waited (0: nothing waits); alert on it like on a stuck lock',
      labelNames: ['namespace'],
      registers,
      collect() {
        this.reset();
        for (const [ns, s] of oldestWaits()) this.set({ namespace: ns }, s);
      },
    });
    new Gauge({
      name: 'deadlockd_clients_connected',
      help: 'SDK connections open now',
      registers,
      collect() {
        this.set(stats().connectedClients);
      },
    });
    new Gauge({
      name: 'deadlockd_clients',
      help: 'clients known, including disconnected ones within their grace period',
      registers,
      collect() {
        this.set(stats().clients);
      },
    });
  }

  errorSent(code: ErrorCode): void {
    this.framesRejected.inc({ code });
  }

  /** Where the snapshot gauge reads the daemon's shared budget. */
  /** The PostgreSQL lock sources' counters (read at scrape time). */
  watchPgSources(read: () => readonly PgSourceCounts[]): void {
    this.pgSources = read;
  }

  /** Where the oldest-wait gauge reads each namespace's oldest wait (seconds). */
  watchOldestWaits(read: () => ReadonlyMap<string, number>): void {
    this.oldestWaits = read;
  }

  watchSnapshotBudget(read: () => number): void {
    this.snapshotInFlight = read;
  }

  /** Everything (auth off, or the metrics token). */
  async allText(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * What a namespace's token sees: that namespace's graph, clients and resolver
   * counters, labelled with its name; nothing process-wide and nothing of other namespaces.
   */
  async namespaceText(namespace: string): Promise<string> {
    const s = this.source().namespaceStats(namespace);
    const registry = new Registry();
    const registers = [registry];
    const labels = { namespace };
    const gauge = (name: string, help: string, value: number) =>
      new Gauge({ name, help, labelNames: ['namespace'], registers }).set(labels, value);
    const counter = (name: string, help: string, value: number) =>
      new Counter({ name, help, labelNames: ['namespace'], registers }).inc(labels, value);
    gauge('deadlockd_owners', 'owners (tasks) in the graph', s.graph.owners);
    gauge('deadlockd_resources', 'resources in the graph', s.graph.resources);
    gauge('deadlockd_holds', 'live holds', s.graph.holds);
    gauge('deadlockd_waits', 'pending waits', s.graph.waits);
    gauge('deadlockd_active_deadlocks', 'deadlocks found and not yet over', s.graph.activeDeadlocks);
    gauge('deadlockd_oldest_wait_seconds', 'how long the oldest pending wait of each namespace has waited (0: nothing waits)', this.oldestWaits().get(namespace) ?? 0);
    gauge('deadlockd_clients_connected', 'SDK connections open now', s.connectedClients);
    gauge('deadlockd_clients', 'clients known, including disconnected ones within their grace period', s.clients);
    counter('deadlockd_deadlocks_detected_total', 'deadlocks detected and acted on (aborted or reported)', s.resolver.resolved);
    counter('deadlockd_deadlocks_unresolvable_total', 'deadlocks with no abortable member (reported only)', s.resolver.unresolvable);
    counter('deadlockd_aborts_sent_total', 'abort frames sent to victims', s.resolver.abortsSent);
    counter('deadlockd_confirm_rounds_total', 'confirm rounds started for cross-client deadlocks', s.resolver.confirmRoundsStarted);
    counter('deadlockd_confirm_timeouts_total', 'confirm rounds that timed out', s.resolver.confirmTimeouts);
    counter('deadlockd_phantoms_avoided_total', 'cross-client deadlocks that vanished after confirmation', s.resolver.vanished);
    return registry.metrics();
  }

  /** Stops the stall detector's timer (the daemon closes). */
  close(): void {
    this.loopStall.stop();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
