// The daemon's registry of clients and the routing of their frames to their
// namespace (namespace.ts holds each namespace's engine, deadlock book,
// resolver and history). A client outlives its connection by
// `disconnectGraceMs`, so a process that reconnects quickly (`hello.resume`)
// keeps its holds; after the grace period its namespace forgets it.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ClientEvent, ServerFrame } from '@deadlockd/proto';
import type { Config } from './config.js';
import type { BatchResult, ClientId } from './engine/types.js';
import type { HistoryDb } from './history-store/history-db.js';
import { openHistory } from './history-store/open.js';
import type { Metrics } from './metrics.js';
import { Namespace } from './namespace.js';
import type { HubStats, NamespaceStats } from './stats.js';
import { DEFAULT_NAMESPACE } from './tokens.js';

export { DEFAULT_NAMESPACE };
export type { HubStats, NamespaceStats };

/** The live connection of a client (a Session). */
export interface ClientConnection {
  send(frame: ServerFrame): void;
}

export interface ClientEntry {
  id: ClientId;
  namespace: string;
  service: string;
  instance: string;
  host?: string | undefined;
  pid?: number | undefined;
  connectedAt: number;
  conn: ClientConnection | null;
  /** set while the client is disconnected and within its grace period */
  graceTimer: NodeJS.Timeout | null;
}

export interface AttachRequest {
  service: string;
  instance: string;
  host?: string | undefined;
  pid?: number | undefined;
  resume?: string | undefined;
  /** hello.features: optional protocol features the client implements */
  features?: string[] | undefined;
}

export interface HubOptions {
  metrics: Metrics;
  now?: () => number;
}

export class Hub {
  private readonly namespaces = new Map<string, Namespace>();
  private readonly clients = new Map<ClientId, ClientEntry>();
  /** the daemon's clock (deadlines, welcome.serverTime) */
  readonly now: () => number;
  private readonly metrics: Metrics;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeps = 0;
  private missed = 0;
  private closed = false;
  /** the deadlock history of every namespace (history-store/) */
  private readonly historyDb: HistoryDb;

  constructor(
    private readonly config: Config,
    private readonly log: FastifyBaseLogger,
    options: HubOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics;
    this.historyDb = openHistory(config, log);
    if (this.historyDb.interruptedAtOpen > 0)
      log.info({ historyFile: this.historyDb.path, interrupted: this.historyDb.interruptedAtOpen }, 'history: deadlocks open when the previous daemon stopped are marked interrupted');
    if (config.sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => this.sweepInSlices(), config.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  namespace(name: string = DEFAULT_NAMESPACE): Namespace {
    let ns = this.namespaces.get(name);
    if (!ns) {
      ns = new Namespace({
        name,
        config: this.config,
        log: this.log,
        metrics: this.metrics,
        now: this.now,
        send: (client, frame) => this.send(client, frame),
        clients: () => this.clientsIn(name),
        connected: (client) => this.clients.get(client)?.conn != null,
        historyDb: this.historyDb,
      });
      this.namespaces.set(name, ns);
    }
    return ns;
  }

  client(id: ClientId): ClientEntry | undefined {
    return this.clients.get(id);
  }

  /** The clients of one namespace, connected or in their grace period, oldest first. */
  clientsIn(namespace: string): ClientEntry[] {
    return [...this.clients.values()].filter((c) => c.namespace === namespace);
  }

  /**
   * A `hello` was accepted on `conn`. Re-attaches the session named by
   * `resume` if it is in its grace period (same namespace and service),
   * otherwise registers a new client.
   */
  attach(req: AttachRequest, conn: ClientConnection, namespace = DEFAULT_NAMESPACE): { client: ClientEntry; resumed: boolean } {
    const old = req.resume === undefined ? undefined : this.clients.get(req.resume);
    if (old && old.conn === null && old.namespace === namespace && old.service === req.service) {
      if (old.graceTimer) clearTimeout(old.graceTimer);
      old.graceTimer = null;
      old.conn = conn;
      old.instance = req.instance;
      this.log.info({ client: old.id, service: old.service }, 'client resumed');
      return { client: old, resumed: true };
    }
    const entry: ClientEntry = {
      id: randomUUID(),
      namespace,
      service: req.service,
      instance: req.instance,
      host: req.host,
      pid: req.pid,
      connectedAt: this.now(),
      conn,
      graceTimer: null,
    };
    this.namespace(namespace).addClient({
      id: entry.id,
      service: entry.service,
      instance: entry.instance,
      host: entry.host,
      pid: entry.pid,
      reorder: req.features?.includes('reorder') ?? false,
    });
    this.clients.set(entry.id, entry);
    this.log.info({ client: entry.id, namespace, service: entry.service, instance: entry.instance, host: entry.host, pid: entry.pid }, 'client connected');
    return { client: entry, resumed: false };
  }

  /** The connection of a client closed: keep its state for the grace period. */
  detach(id: ClientId, conn: ClientConnection): void {
    const entry = this.clients.get(id);
    if (!entry || entry.conn !== conn) return; // already re-attached elsewhere or removed
    entry.conn = null;
    if (this.closed || this.config.disconnectGraceMs === 0) {
      this.remove(id);
      return;
    }
    this.log.info({ client: id, graceMs: this.config.disconnectGraceMs }, 'client disconnected; holds kept for the grace period');
    entry.graceTimer = setTimeout(() => this.remove(id), this.config.disconnectGraceMs);
    entry.graceTimer.unref();
  }

  /** Forget a client: its owners' holds and waits leave the graph. */
  private remove(id: ClientId): void {
    const entry = this.clients.get(id);
    if (!entry) return;
    if (entry.graceTimer) clearTimeout(entry.graceTimer);
    this.clients.delete(id);
    this.namespace(entry.namespace).removeClient(id);
    this.log.info({ client: id, service: entry.service }, 'client removed');
  }

  send(id: ClientId, frame: ServerFrame): void {
    const conn = this.clients.get(id)?.conn;
    if (conn) conn.send(frame);
    else this.log.debug({ client: id, type: frame.type }, 'frame for a disconnected client dropped');
  }

  /** The namespace of a registered client. */
  private of(id: ClientId): Namespace {
    const entry = this.clients.get(id);
    if (!entry) throw new Error(`unknown client ${id}`);
    return this.namespace(entry.namespace);
  }

  /** The client's namespace is in the middle of a search (namespace.ts): hold what would change its graph. */
  busy(id: ClientId): boolean {
    return this.of(id).busy;
  }

  /** Runs `fn` once the client's namespace is not busy (now if it is not). */
  whenIdle(id: ClientId, fn: () => void): void {
    this.of(id).whenIdle(fn);
  }

  events(id: ClientId, events: ClientEvent[]): BatchResult {
    return this.of(id).events(id, events);
  }

  snapshot(id: ClientId, events: ClientEvent[], done: (r: BatchResult) => void): void {
    this.of(id).snapshot(id, events, done);
  }

  abortAnswered(id: ClientId, waitId: string, deadlock: string, result: 'aborted' | 'stale' | 'expired'): void {
    this.of(id).abortAnswered(id, waitId, deadlock, result);
  }

  confirmAnswered(id: ClientId, check: string, pending: string[]): void {
    this.of(id).confirmAnswered(id, check, pending);
  }

  /** One full pass over every namespace, each in one go (callable directly; the timer uses sweepInSlices). */
  sweep(): { found: number; missed: number } {
    const stop = this.metrics.sweepDuration.startTimer();
    const total = { found: 0, missed: 0 };
    for (const ns of this.namespaces.values()) {
      try {
        this.swept(ns, ns.sweep(), total);
      } catch (err) {
        this.log.error({ err, namespace: ns.name }, 'sweep failed');
      }
    }
    this.sweeps++;
    stop();
    return total;
  }

  /** a periodic sweep is going on (its namespaces in slices) */
  private sweeping = false;

  /**
   * The periodic safety net: every namespace's sweep in slices (namespace.ts), so a big blocked
   * part does not hold the event loop; a tick while the last sweep still runs is skipped.
   */
  private sweepInSlices(): void {
    if (this.sweeping) return;
    const all = [...this.namespaces.values()];
    const stop = this.metrics.sweepDuration.startTimer();
    const total = { found: 0, missed: 0 };
    let left = all.length + 1;
    const oneDone = (): void => {
      if (--left > 0) return;
      this.sweeping = false;
      this.sweeps++;
      stop();
    };
    this.sweeping = true;
    for (const ns of all) {
      try {
        ns.sweepInSlices((r) => {
          this.swept(ns, r, total);
          oneDone();
        });
      } catch (err) {
        this.log.error({ err, namespace: ns.name }, 'sweep failed');
        oneDone();
      }
    }
    oneDone();
  }

  private swept(ns: Namespace, r: { found: number; missed: number }, total: { found: number; missed: number }): void {
    total.found += r.found;
    total.missed += r.missed;
    this.missed += r.missed;
    if (r.missed > 0) this.log.error({ namespace: ns.name, missed: r.missed }, 'sweep found deadlocks the incremental detection missed');
  }

  stats(): HubStats {
    const namespaces: HubStats['namespaces'] = {};
    for (const ns of this.namespaces.values()) namespaces[ns.name] = { graph: ns.graphStats(), resolver: ns.resolverStats() };
    let connected = 0;
    for (const c of this.clients.values()) if (c.conn) connected++;
    return { clients: this.clients.size, connectedClients: connected, sweeps: this.sweeps, missed: this.missed, namespaces };
  }

  /** Each namespace's oldest pending wait, in seconds (the deadlockd_oldest_wait_seconds gauge). */
  oldestWaits(): Map<string, number> {
    const out = new Map<string, number>();
    for (const ns of this.namespaces.values()) out.set(ns.name, ns.oldestWaitSeconds());
    return out;
  }

  namespaceStats(name: string): NamespaceStats {
    const ns = this.namespace(name);
    const clients = this.clientsIn(name);
    return {
      namespace: name,
      clients: clients.length,
      connectedClients: clients.filter((c) => c.conn !== null).length,
      sweeps: this.sweeps,
      graph: ns.graphStats(),
      resolver: ns.resolverStats(),
    };
  }

  /** Stops every timer. Clients still registered are dropped (their connections are being closed). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const c of this.clients.values()) if (c.graceTimer) clearTimeout(c.graceTimer);
    for (const ns of this.namespaces.values()) ns.stop();
    this.historyDb.close();
  }
}
