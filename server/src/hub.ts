// The daemon's state between the sockets and the engines: one Engine (with
// its Resolver and history) per namespace, and the registry of clients with
// their current connection. A client outlives its connection by
// `disconnectGraceMs`, so a process that reconnects quickly (`hello.resume`)
// keeps its holds; after the grace period the engine forgets it.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ClientEvent, Hazard, ServerFrame } from '@deadlockd/proto';
import { engineLimits, type Config } from './config.js';
import { Engine } from './engine/index.js';
import type { BatchResult, ClientId, GraphStats } from './engine/types.js';
import { DeadlockHistory } from './history.js';
import { Metrics } from './metrics.js';
import { Resolver, type ResolverStats } from './resolver.js';
import { DEFAULT_NAMESPACE, TokenTable } from './tokens.js';

export { DEFAULT_NAMESPACE };

/** The live connection of a client (a Session). */
export interface ClientConnection {
  send(frame: ServerFrame): void;
}

export interface ClientEntry {
  id: ClientId;
  namespace: string;
  service: string;
  instance: string;
  connectedAt: number;
  conn: ClientConnection | null;
  /** set while the client is disconnected and within its grace period */
  graceTimer: NodeJS.Timeout | null;
}

export interface NamespaceState {
  name: string;
  engine: Engine;
  resolver: Resolver;
  history: DeadlockHistory;
}

export interface AttachRequest {
  service: string;
  instance: string;
  resume?: string | undefined;
}

export interface HubStats {
  clients: number;
  connectedClients: number;
  sweeps: number;
  /** deadlocks the periodic sweep found that the incremental path missed: 0 in a correct build */
  missed: number;
  namespaces: Record<string, { graph: GraphStats; resolver: ResolverStats & { openRounds: number } }>;
}

/** One namespace's share of HubStats (what REST shows a caller of that namespace). */
export interface NamespaceStats {
  namespace: string;
  clients: number;
  connectedClients: number;
  /** full sweeps run so far (over every namespace) */
  sweeps: number;
  graph: GraphStats;
  resolver: ResolverStats & { openRounds: number };
}

export interface HubOptions {
  now?: () => number;
}

export class Hub {
  private readonly namespaces = new Map<string, NamespaceState>();
  private readonly clients = new Map<ClientId, ClientEntry>();
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeps = 0;
  private missed = 0;
  private closed = false;
  readonly metrics = new Metrics(() => this);
  /** token → namespace; empty when auth is off */
  readonly tokens: TokenTable;

  constructor(
    private readonly config: Config,
    private readonly log: FastifyBaseLogger,
    options: HubOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.tokens = new TokenTable(config.tokens);
    if (config.sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), config.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  namespace(name: string = DEFAULT_NAMESPACE): NamespaceState {
    let ns = this.namespaces.get(name);
    if (!ns) {
      const c = this.config;
      const engine = new Engine({
        namespace: name,
        now: this.now,
        victimOrder: c.victimOrder,
        limits: engineLimits(c),
      });
      const history = new DeadlockHistory(this.config.historySize, name, this.config.maxHistoryBytes);
      const resolver = new Resolver({
        engine,
        namespace: name,
        history,
        send: (client, frame) => this.send(client, frame),
        log: this.log,
        confirmTimeoutMs: this.config.confirmTimeoutMs,
        confirmRounds: this.config.confirmRounds,
      });
      ns = { name, engine, resolver, history };
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
      connectedAt: this.now(),
      conn,
      graceTimer: null,
    };
    this.namespace(namespace).engine.addClient({ id: entry.id, service: entry.service, instance: entry.instance });
    this.clients.set(entry.id, entry);
    this.log.info({ client: entry.id, namespace, service: entry.service, instance: entry.instance }, 'client connected');
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
    const ns = this.namespace(entry.namespace);
    const { resolved, deadlocks } = ns.engine.removeClient(id);
    ns.history.markResolved(resolved, this.now());
    ns.resolver.clientRemoved(id);
    ns.resolver.handle(deadlocks); // what is left of a deadlock without this client may still be one
    this.log.info({ client: id, service: entry.service, resolvedDeadlocks: resolved.length }, 'client removed');
  }

  send(id: ClientId, frame: ServerFrame): void {
    const conn = this.clients.get(id)?.conn;
    if (conn) conn.send(frame);
    else this.log.debug({ client: id, type: frame.type }, 'frame for a disconnected client dropped');
  }

  private entryNs(id: ClientId): NamespaceState {
    const entry = this.clients.get(id);
    if (!entry) throw new Error(`unknown client ${id}`);
    return this.namespace(entry.namespace);
  }

  /** Applies results every engine call shares: ended deadlocks, new deadlocks, hazards. */
  private after(ns: NamespaceState, result: BatchResult): BatchResult {
    ns.history.markResolved(result.resolved, this.now());
    ns.resolver.handle(result.deadlocks);
    for (const h of result.hazards) this.announceHazard(ns, h);
    return result;
  }

  /** A hazard was found or gained a site: log it, tell every client that contributed a site. */
  private announceHazard(ns: NamespaceState, hazard: Hazard): void {
    this.log.warn({ namespace: ns.name, hazard: hazard.id, kind: hazard.kind, text: hazard.text }, 'deadlock hazard');
    const sites = new Set(hazard.sites.map((s) => `${s.service}\u0000${s.instance}`));
    for (const c of this.clients.values())
      if (c.namespace === ns.name && sites.has(`${c.service}\u0000${c.instance}`)) this.send(c.id, { type: 'hazard', hazard });
  }

  events(id: ClientId, events: ClientEvent[]): BatchResult {
    const ns = this.entryNs(id);
    this.metrics.eventsReceived.inc(events.length);
    const stop = this.metrics.batchDuration.startTimer();
    const result = ns.engine.applyBatch(id, events);
    stop();
    return this.after(ns, result);
  }

  snapshot(id: ClientId, events: ClientEvent[]): BatchResult {
    const ns = this.entryNs(id);
    this.metrics.eventsReceived.inc(events.length);
    return this.after(ns, ns.engine.replaceClientState(id, events));
  }

  abortAnswered(id: ClientId, waitId: string, result: 'aborted' | 'stale'): BatchResult {
    const ns = this.entryNs(id);
    if (result === 'stale') this.metrics.staleAborts.inc();
    return this.after(ns, ns.engine.abortAnswered(id, waitId, result));
  }

  confirmAnswered(id: ClientId, check: string, pending: string[]): void {
    this.entryNs(id).resolver.confirmAnswered(id, check, pending);
  }

  /** One full pass over every namespace (the periodic safety net; callable directly). */
  sweep(): { found: number; missed: number } {
    const stop = this.metrics.sweepDuration.startTimer();
    let found = 0;
    let missed = 0;
    for (const ns of this.namespaces.values()) {
      try {
        const r = ns.engine.sweep();
        found += r.found.length;
        missed += r.missed;
        if (r.missed > 0) {
          this.log.error({ namespace: ns.name, missed: r.missed }, 'sweep found deadlocks the incremental detection missed');
        }
        ns.resolver.handle(r.found);
      } catch (err) {
        this.log.error({ err, namespace: ns.name }, 'sweep failed');
      }
    }
    this.sweeps++;
    this.missed += missed;
    stop();
    return { found, missed };
  }

  stats(): HubStats {
    const namespaces: HubStats['namespaces'] = {};
    for (const ns of this.namespaces.values()) {
      namespaces[ns.name] = { graph: ns.engine.stats(), resolver: ns.resolver.stats() };
    }
    let connected = 0;
    for (const c of this.clients.values()) if (c.conn) connected++;
    return { clients: this.clients.size, connectedClients: connected, sweeps: this.sweeps, missed: this.missed, namespaces };
  }

  namespaceStats(name: string): NamespaceStats {
    const ns = this.namespace(name);
    const clients = this.clientsIn(name);
    return {
      namespace: name,
      clients: clients.length,
      connectedClients: clients.filter((c) => c.conn !== null).length,
      sweeps: this.sweeps,
      graph: ns.engine.stats(),
      resolver: ns.resolver.stats(),
    };
  }

  /** Stops every timer. Clients still registered are dropped (their connections are being closed). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const c of this.clients.values()) if (c.graceTimer) clearTimeout(c.graceTimer);
    for (const ns of this.namespaces.values()) ns.resolver.stop();
  }
}
