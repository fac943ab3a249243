// The detection engine of one namespace: the graph (graph.ts), the search
// (detect.ts, whose header explains the algorithm), and the bookkeeping of
// deadlocks that were found and are being resolved. Pure: no I/O, no timers;
// the clock and the id generator are injected.
import type { ClientEvent, Hazard } from '@deadlockd/proto';
import { findDeadlocks, type FoundDeadlock } from './detect.js';
import { EventRejected, Graph } from './graph.js';
import { DEFAULT_LOCK_ORDER_LIMITS, LockOrder } from './hazards.js';
import type { ClientState, Owner, Resource, Wait } from './model.js';
import { buildReport } from './report.js';
import {
  DEFAULT_ENGINE_LIMITS,
  DEFAULT_VICTIM_ORDER,
  type BatchResult,
  type ClientId,
  type ClientInfo,
  type Deadlock,
  type EngineLimits,
  type EngineOptions,
  type EventError,
  type GraphStats,
  type OwnerRef,
  type VictimCriterion,
} from './types.js';

interface Active {
  deadlock: Deadlock;
  waits: Wait[];
}

let idCounter = 0;
const defaultId = (): string => `DL-${Date.now().toString(36)}-${(++idCounter).toString(36)}`;

export class Engine {
  readonly namespace: string;
  private readonly graph: Graph;
  /** lock-order facts and the hazards found in them */
  readonly lockOrder: LockOrder;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly victimOrder: VictimCriterion[];
  private readonly limits: EngineLimits;
  /** found deadlocks not yet over (being verified, being aborted, or unresolvable), by id and by key */
  private readonly active = new Map<string, Active>();
  private readonly activeByKey = new Map<string, string>();
  private resolved: string[] = [];
  /** keys of deadlocks dismissed after a failed confirm round (bounded): if the sweep finds them again they were not missed */
  private readonly dismissedKeys = new Set<string>();
  /** members of deadlocks that just ended: what is left of them may still be deadlocked */
  private recheckStarts: Owner[] = [];

  constructor(opts: EngineOptions) {
    this.namespace = opts.namespace;
    this.now = opts.now ?? Date.now;
    this.newId = opts.newDeadlockId ?? defaultId;
    this.victimOrder = opts.victimOrder ?? DEFAULT_VICTIM_ORDER;
    this.limits = { ...DEFAULT_ENGINE_LIMITS, ...opts.limits };
    this.graph = new Graph(this.limits, this.now, (w) => this.waitGone(w));
    this.lockOrder = new LockOrder({ ...DEFAULT_LOCK_ORDER_LIMITS, ...opts.lockOrderLimits }, this.now);
  }

  addClient(info: ClientInfo): void {
    this.graph.addClient(info);
  }

  hasClient(id: ClientId): boolean {
    return this.graph.clients.has(id);
  }

  removeClient(id: ClientId): { resolved: string[]; deadlocks: Deadlock[] } {
    const c = this.graph.clients.get(id);
    if (c) this.graph.removeClient(c);
    return { resolved: this.takeResolved(), deadlocks: this.detect([], true) };
  }

  /** Applies one batch in order; an event that fails is skipped (and reported), the rest apply. */
  applyBatch(clientId: ClientId, events: ClientEvent[]): BatchResult {
    const c = this.client(clientId);
    const errors: EventError[] = [];
    const starts: Owner[] = [];
    const hazards: Hazard[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as ClientEvent;
      try {
        if (e.type === 'order') hazards.push(...this.recordOrder(c, e));
        else this.graph.apply(c, e, starts);
      } catch (err) {
        if (err instanceof EventRejected) errors.push({ index: i, code: err.code, message: err.message });
        else errors.push({ index: i, code: 'INTERNAL', message: String((err as Error)?.message ?? err) });
      }
    }
    // Search once per batch, on its final state: a deadlock persists, so
    // nothing formed inside the batch can have gone away by its end.
    const deadlocks = this.detect(starts, true);
    return { errors, deadlocks, resolved: this.takeResolved(), hazards };
  }

  private recordOrder(c: ClientState, e: Extract<ClientEvent, { type: 'order' }>): Hazard[] {
    const res = (name: string): Resource =>
      c.resources.get(name) ?? (() => { throw new EventRejected('UNKNOWN_RESOURCE', `resource '${name}' was not declared on this connection`); })();
    // Sites name the task as people know it (its name), not by its wire id.
    const owner = e.owner === undefined ? undefined : (c.owners.get(e.owner)?.name ?? e.owner);
    return this.lockOrder.record(c, res(e.held), res(e.acquired), owner, e.stack);
  }

  /** A client's snapshot after reconnecting: its whole state is replaced, atomically. */
  replaceClientState(clientId: ClientId, events: ClientEvent[]): BatchResult {
    this.graph.clearClient(this.client(clientId));
    return this.applyBatch(clientId, events);
  }

  /** Marks the victims' waits as being aborted (treated as gone by detection) before the aborts are sent. */
  beginResolution(d: Deadlock): void {
    const a = this.active.get(d.id) ?? this.register(d, this.waitsOf(d));
    for (const v of d.victims) {
      const w = this.graph.clients.get(v.client)?.waits.get(v.waitId);
      if (w) w.aborting = true;
    }
    a.deadlock = d;
  }

  /** Forget a found deadlock that will not be resolved (its confirm round failed); it may be found again. */
  dismiss(deadlockId: string): void {
    const a = this.unlink(deadlockId);
    if (!a) return;
    if (this.dismissedKeys.size >= 10_000) this.dismissedKeys.clear();
    this.dismissedKeys.add(a.deadlock.key);
  }

  /**
   * The victim's client answered. `aborted`: its cancel event came first, so
   * nothing to do. `stale`: the wait had already ended on the client; if we
   * still think it pends, the view was behind — clear the mark and search again.
   */
  abortAnswered(clientId: ClientId, waitId: string, result: 'aborted' | 'stale'): BatchResult {
    const w = this.graph.clients.get(clientId)?.waits.get(waitId);
    if (!w || result === 'aborted') return { errors: [], deadlocks: [], resolved: this.takeResolved(), hazards: [] };
    w.aborting = false;
    // The deadlock as recorded is over for its victim's client (the wait had
    // ended there); if our view still has one, the search below finds it anew.
    for (const id of w.deadlocks ?? []) {
      this.dismiss(id);
      this.resolved.push(id);
    }
    return { errors: [], deadlocks: this.detect([w.owner], true), resolved: this.takeResolved(), hazards: [] };
  }

  /** Searches again from these owners (after a confirm round); returns what is deadlocked now. */
  recheck(members: OwnerRef[]): Deadlock[] {
    const owners: Owner[] = [];
    for (const m of members) {
      const o = this.graph.clients.get(m.client)?.owners.get(m.owner);
      if (o) owners.push(o);
    }
    return this.detect(owners, false);
  }

  isPending(clientId: ClientId, waitId: string): boolean {
    return this.graph.clients.get(clientId)?.waits.has(waitId) ?? false;
  }

  /**
   * The safety net: reduce the whole graph and compare with what the
   * incremental path found. Anything new is returned and counted as `missed`
   * (zero in a correct build).
   */
  sweep(): { found: Deadlock[]; missed: number } {
    // The whole graph as the reduction's scope on purpose, not scopeFrom(): the net must not
    // share the incremental path's idea of what is relevant, or a bug there would hide here too.
    const all: Owner[] = [];
    for (const c of this.graph.clients.values()) for (const o of c.owners.values()) all.push(o);
    const found = findDeadlocks(all.filter((o) => o.hasLiveWait()), this.victimOrder, {
      everyComponent: true,
      scope: new Set(all),
    });
    // Known = every member wait already belongs to a deadlock being handled
    // (its shape may have changed since, e.g. a member released a hold).
    const fresh: Deadlock[] = [];
    let missed = 0;
    for (const f of found) {
      if (f.waits.every((w) => (w.deadlocks?.length ?? 0) > 0)) continue;
      const d = this.toDeadlock(f);
      this.register(d, f.waits);
      fresh.push(d);
      if (!this.dismissedKeys.has(d.key)) missed++;
    }
    return { found: fresh, missed };
  }

  activeDeadlocks(): Deadlock[] {
    return [...this.active.values()].map((a) => a.deadlock);
  }

  stats(): GraphStats {
    const g = this.graph;
    return {
      owners: g.ownerCount,
      resources: g.localResourceCount + g.globals.size,
      holds: g.holdCount,
      waits: g.waitCount,
      activeDeadlocks: this.active.size,
    };
  }

  /** Read-only access for exporters (REST graph, dashboard). */
  get clients(): ReadonlyMap<string, ClientState> {
    return this.graph.clients;
  }

  /** A resource by key: `g:<name>` (shared), `<client>:<name>` (local), `task:<client>/<owner>`. */
  findResource(key: string): Resource | undefined {
    if (key.startsWith('g:')) return this.graph.globals.get(key.slice(2));
    if (key.startsWith('task:')) {
      const [client, ...rest] = key.slice(5).split('/');
      return this.graph.clients.get(client ?? '')?.owners.get(rest.join('/'))?.taskResource;
    }
    const i = key.indexOf(':');
    return this.graph.clients.get(key.slice(0, i))?.resources.get(key.slice(i + 1));
  }

  // ---- internals ----------------------------------------------------------------

  private client(id: ClientId): ClientState {
    const c = this.graph.clients.get(id);
    if (!c) throw new Error(`engine: unknown client '${id}' (addClient first)`);
    return c;
  }

  private detect(newStarts: Owner[], skipKnown: boolean): Deadlock[] {
    let starts = newStarts;
    if (this.recheckStarts.length) {
      starts = starts.concat(this.recheckStarts);
      this.recheckStarts = [];
    }
    if (starts.length === 0) return [];
    starts = unique(starts).filter(alive);
    const out: Deadlock[] = [];
    for (const f of findDeadlocks(starts, this.victimOrder)) {
      const d = this.toDeadlock(f);
      const known = this.activeByKey.get(d.key);
      if (known) {
        if (skipKnown) continue;
        const a = this.active.get(known) as Active;
        d.id = known;
        d.report = { ...d.report, id: known, text: d.report.text.replace(d.report.id, known) };
        a.deadlock = d;
      } else this.register(d, f.waits);
      if (!out.some((x) => x.key === d.key)) out.push(d);
    }
    return out;
  }

  private toDeadlock(f: FoundDeadlock): Deadlock {
    const id = this.newId();
    const detectedAt = this.now();
    const ref = (o: Owner): OwnerRef => ({ client: o.client.info.id, owner: o.id });
    return {
      id,
      key: f.waits.map((w) => w.key).sort().join(','),
      detectedAt,
      members: f.members.map(ref),
      waits: f.waits.map((w) => ({ client: w.owner.client.info.id, waitId: w.id })),
      victims: f.victims.map((v) => ({ ...ref(v.owner), waitId: v.wait.id, reason: v.reason })),
      clients: unique(f.members.map((o) => o.client.info.id)),
      report: buildReport(f, { id, namespace: this.namespace, detectedAt }, this.limits),
    };
  }

  private waitsOf(d: Deadlock): Wait[] {
    const out: Wait[] = [];
    for (const r of d.waits) {
      const w = this.graph.clients.get(r.client)?.waits.get(r.waitId);
      if (w) out.push(w);
    }
    return out;
  }

  private register(d: Deadlock, waits: Wait[]): Active {
    const a: Active = { deadlock: d, waits };
    this.active.set(d.id, a);
    this.activeByKey.set(d.key, d.id);
    for (const w of waits) (w.deadlocks ??= []).push(d.id);
    return a;
  }

  /** Forgets an active deadlock and takes its id off its member waits. */
  private unlink(id: string): Active | undefined {
    const a = this.active.get(id);
    if (!a) return undefined;
    this.active.delete(id);
    this.activeByKey.delete(a.deadlock.key);
    for (const x of a.waits) if (x.deadlocks) x.deadlocks = x.deadlocks.filter((y) => y !== id);
    return a;
  }

  /** A member wait ended (granted, cancelled, dropped): the deadlock it was part of is over. */
  private waitGone(w: Wait): void {
    const ids = w.deadlocks;
    if (!ids) return; // nearly every wait: no allocation on the grant/cancel path
    w.deadlocks = undefined;
    for (const id of ids) {
      const a = this.unlink(id);
      if (!a) continue;
      // Two cycles can share a component; one wait ending may leave the other.
      for (const x of a.waits) if (x !== w && x.owner.waits.has(x)) this.recheckStarts.push(x.owner);
      this.resolved.push(id);
    }
  }

  private takeResolved(): string[] {
    if (this.resolved.length === 0) return [];
    const r = this.resolved;
    this.resolved = [];
    return r;
  }
}

function unique<T>(xs: T[]): T[] {
  return xs.length < 2 ? xs : [...new Set(xs)];
}

const alive = (o: Owner): boolean => o.client.owners.get(o.id) === o;
