// The detection engine of one namespace: the graph (graph.ts) and the search
// (detect.ts); README.md in this directory explains the algorithm. It returns
// what it found; the deadlock book (book.ts) holds it from there. Pure: no
// I/O, no timers; the clock and the id generator are injected.
import type { ClientEvent, Hazard } from '@deadlockd/proto';
import { findDeadlocksSteps, type FoundDeadlock } from './detect.js';
import { emptyList, pushed } from './empty.js';
import { EventRejected, Graph, newStarts, type Starts } from './graph.js';
import { DEFAULT_LOCK_ORDER_LIMITS, LockOrder } from './hazards.js';
import { Wait, type ClientState, type Owner, type Resource } from './model.js';
import { buildReportSteps } from './report.js';
import { deadlockSignatureSteps } from './signature.js';
import { eachStep, runToEnd, runUntil, sortSteps, STEP, uniqueSteps, type Steps } from './steps.js';
import {
  DEFAULT_ENGINE_LIMITS,
  DEFAULT_VICTIM_ORDER,
  type ClientId,
  type ClientInfo,
  type Deadlock,
  type EngineLimits,
  type EngineOptions,
  type EventError,
  type EngineStats,
  type OwnerRef,
  type VictimCriterion,
  type WaitRef,
} from './types.js';

/**
 * A deadlock the search found, with the model objects behind its refs: the
 * book marks the member waits, so that the engine can say when one ends.
 */

/** Array.prototype.sort's default order for strings (UTF-16 code units) */
const codeUnitOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export interface Found {
  deadlock: Deadlock;
  waits: Wait[];
}

/** What one engine call changed, for the deadlock book to act on. */
export interface EngineResult {
  errors: EventError[];
  found: Found[];
  /** member waits (marked by the book) that ended: granted, cancelled, dropped */
  ended: Wait[];
  /** waits the call added, still pending or not (the long-wait log takes the pending ones) */
  added: Wait[];
  hazards: Hazard[];
  /**
   * Set when the search after the batch did not end before `shouldYield` said to pause: the
   * rest of the search (steps.ts runUntil), whose value is the deadlocks found. Until it ends
   * the graph must not change (the namespace holds its clients' frames, namespace.ts); reads
   * are fine.
   */
  pending?: Steps<Found[]>;
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
  /** marked member waits that ended since the last result was taken */
  private ended: Wait[] = [];

  constructor(opts: EngineOptions) {
    this.namespace = opts.namespace;
    this.now = opts.now ?? Date.now;
    this.newId = opts.newDeadlockId ?? defaultId;
    this.victimOrder = opts.victimOrder ?? DEFAULT_VICTIM_ORDER;
    this.limits = { ...DEFAULT_ENGINE_LIMITS, ...opts.limits };
    this.graph = new Graph(this.limits, this.now, (w) => {
      // nearly every wait is no deadlock's member: no allocation on the grant/cancel path
      if (w.deadlocks !== undefined) this.ended.push(w);
    });
    this.lockOrder = new LockOrder({ ...DEFAULT_LOCK_ORDER_LIMITS, ...opts.lockOrderLimits }, this.now);
  }

  addClient(info: ClientInfo): void {
    this.graph.addClient(info);
  }

  /** the graph's change count: the same number, the same graph (what a search finds in it is found again) */
  get version(): number {
    return this.graph.changes;
  }

  hasClient(id: ClientId): boolean {
    return this.graph.clients.has(id);
  }

  /** The client is gone: its owners, holds and waits leave the graph. */
  removeClient(id: ClientId): EngineResult {
    return runToEnd(this.removeClientSteps(id));
  }

  /** removeClient, pausing every few hundred owners (steps.ts): the namespace runs it in slices */
  *removeClientSteps(id: ClientId): Steps<EngineResult> {
    const c = this.graph.clients.get(id);
    if (c) yield* this.graph.removeClientSteps(c);
    return this.result([], [], []);
  }

  /**
   * Applies one batch in order; an event that fails is skipped (and reported), the rest apply.
   * With `shouldYield` the search after it may pause (asked every few hundred units of work)
   * and continue in `result.pending`; without, it runs to its end here.
   */
  applyBatch(clientId: ClientId, events: ClientEvent[], shouldYield?: () => boolean): EngineResult {
    const c = this.client(clientId);
    const out = newBatchOut();
    for (let i = 0; i < events.length; i++) this.applyEvent(c, events, i, out);
    const { errors, starts, hazards } = out;
    // Search once per batch, on its final state: a deadlock persists, so
    // nothing formed inside the batch can have gone away by its end.
    // Most batches start no search at all, and most of the rest start from waits the pre-filter
    // clears (a contended wait whose holder runs): no generator for them (hot path). Up to a
    // step's worth of starts are asked here; detectSteps asks the same of the ones that pass.
    if (starts.resources.length === 0 && starts.owners.length <= STEP && !starts.owners.some(mayBeOnCycle))
      return this.result(errors, emptyList() as Found[], hazards, starts.waits);
    const search = this.detectSteps(starts.owners, undefined, starts.resources);
    if (shouldYield === undefined) return this.result(errors, runToEnd(search), hazards, starts.waits);
    const first = runUntil(search, shouldYield);
    if (first.done) return this.result(errors, first.value, hazards, starts.waits);
    const r = this.result(errors, emptyList() as Found[], hazards, starts.waits);
    r.pending = search;
    return r;
  }

  private recordOrder(c: ClientState, e: Extract<ClientEvent, { type: 'order' }>): Hazard[] {
    const res = (name: string): Resource =>
      c.resources.get(name) ?? (() => { throw new EventRejected('UNKNOWN_RESOURCE', `resource '${name}' was not declared on this connection`); })();
    // Sites name the task as people know it (its name), not by its wire id.
    const owner = e.owner === undefined ? undefined : (c.owners.get(e.owner)?.name ?? e.owner);
    return this.lockOrder.record(c, res(e.held), res(e.acquired), owner, e.stack, { heldMode: e.heldMode, mode: e.mode });
  }

  /** Event `i` of `events`, applied; a rejected one goes to `out.errors` with its index. */
  private applyEvent(c: ClientState, events: ClientEvent[], i: number, out: BatchOut): void {
    const e = events[i] as ClientEvent;
    try {
      if (e.type === 'order') for (const h of this.recordOrder(c, e)) out.hazards = pushed(out.hazards, h);
      else this.graph.apply(c, e, out.starts);
    } catch (err) {
      if (err instanceof EventRejected) out.errors = pushed(out.errors, { index: i, code: err.code, message: err.message });
      else out.errors = pushed(out.errors, { index: i, code: 'INTERNAL', message: String((err as Error)?.message ?? err) });
    }
  }

  /** A client's snapshot after reconnecting: its whole state is replaced, atomically. */
  replaceClientState(clientId: ClientId, events: ClientEvent[]): EngineResult {
    return runToEnd(this.replaceClientStateSteps(clientId, events));
  }

  /**
   * replaceClientState, pausing every STEP owners, resources and events, and through the search
   * after it: a snapshot may carry maxSnapshotEvents (250,000), and 200,000 of them applied in
   * one go held the event loop 315-383 ms. The namespace runs it in slices; until it ends, the
   * graph is between the client's old state and its new one, and nothing else may change it.
   */
  *replaceClientStateSteps(clientId: ClientId, events: ClientEvent[]): Steps<EngineResult> {
    const c = this.client(clientId);
    yield* this.graph.clearClientSteps(c);
    const out = newBatchOut();
    for (let i = 0; i < events.length; i++) {
      this.applyEvent(c, events, i, out);
      if ((i + 1) % STEP === 0) {
        yield;
        out.starts.at = undefined; // a new slice, a new clock reading
      }
    }
    const { starts } = out;
    const found = starts.owners.length === 0 && starts.resources.length === 0 ? [] : yield* this.detectSteps(starts.owners, undefined, starts.resources);
    return this.result(out.errors, found, out.hazards, starts.waits);
  }

  /**
   * Searches from these owners (refs or model objects) and returns what is
   * deadlocked now. `unabortable` owners (keys `client/owner`) are never chosen
   * as victims: they missed a deadline of the deadlock being re-decided.
   */
  search(from: readonly (OwnerRef | Owner)[], unabortable?: ReadonlySet<string>): Found[] {
    return runToEnd(this.searchSteps(from, unabortable));
  }

  /** search(), pausing every few hundred units of work (steps.ts) */
  *searchSteps(from: readonly (OwnerRef | Owner)[], unabortable?: ReadonlySet<string>): Steps<Found[]> {
    const owners: Owner[] = [];
    let work = 0;
    for (const m of from) {
      const o = 'client' in m && typeof m.client === 'string' ? this.graph.clients.get(m.client)?.owners.get((m as OwnerRef).owner) : (m as Owner);
      if (o) owners.push(o);
      if (++work % STEP === 0) yield;
    }
    return yield* this.detectSteps(owners, unabortable);
  }

  /**
   * A deadlock's queue moves, applied to the engine's view as the owning client applies its
   * `reorder` frames (moved waits first, in order; ids no longer pending are skipped).
   */
  applyReorders(d: Deadlock): void {
    for (const m of d.reorders) {
      const c = this.graph.clients.get(m.client);
      const r = c?.resources.get(m.resource);
      if (!c || !r) continue;
      const waits = m.waits.map((id) => c.waits.get(id)).filter((w): w is Wait => w !== undefined && w.resource === r);
      this.graph.moveToFront(r, waits);
    }
  }

  /** The model object of a pending wait, if it still pends. */
  wait(ref: WaitRef): Wait | undefined {
    return this.graph.clients.get(ref.client)?.waits.get(ref.waitId);
  }

  isPending(clientId: ClientId, waitId: string): boolean {
    return this.graph.clients.get(clientId)?.waits.has(waitId) ?? false;
  }

  /** Every deadlock in the whole graph (the periodic safety net; the book compares). */
  sweep(): Found[] {
    return runToEnd(this.sweepSteps());
  }

  /** sweep(), pausing every few hundred units of work (steps.ts); the graph must not change until it ends */
  *sweepSteps(): Steps<Found[]> {
    // Only an owner that waits can be stuck, and whether it can proceed depends only on the
    // owners it reaches through the resources it waits for (their holders and their queues).
    // That closure is the reduction's scope: on a graph of many holds and few waits the sweep
    // costs the waiting part, not every hold. The walk is this one's own, on purpose not
    // scopeFrom(): the net must not share the incremental path's idea of what is relevant,
    // or a bug there would hide here too.
    const waiting: Owner[] = [];
    const scope = new Set<Owner>();
    let work = 0;
    for (const c of this.graph.clients.values())
      for (const o of c.owners.values()) {
        if (o.waits.size > 0) waiting.push(o);
        if (++work % STEP === 0) yield;
      }
    const stack = [...waiting];
    for (const o of stack) scope.add(o);
    yield;
    const reached = (x: Owner): void => {
      if (scope.has(x)) return;
      scope.add(x);
      stack.push(x);
    };
    // each resource once: 10k waiters of one hot lock each walking its whole queue made a sweep
    // of that lock cost 10k² (20 s)
    const seen = new Set<Resource>();
    while (stack.length > 0) {
      if (++work % STEP === 0) yield;
      const o = stack.pop() as Owner;
      for (const w of o.waits) {
        if (seen.has(w.resource)) continue;
        seen.add(w.resource);
        for (const h of w.resource.holderOwners()) reached(h);
        for (const q of w.resource.queue) reached(q.owner);
      }
    }
    const found: Found[] = [];
    for (const f of yield* findDeadlocksSteps(waiting.filter((o) => o.hasLiveWait()), this.victimOrder, { stamps: this.graph.stamps, everyComponent: true, scope })) found.push(yield* this.toFoundSteps(f));
    return found;
  }

  stats(): EngineStats {
    const g = this.graph;
    return {
      owners: g.ownerCount,
      resources: g.localResourceCount + g.globals.size,
      holds: g.holdCount,
      waits: g.waitCount,
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

  private result(errors: EventError[], found: Found[], hazards: Hazard[], added: Wait[] = []): EngineResult {
    const ended = this.ended;
    if (ended.length) this.ended = [];
    return { errors, found, ended, added, hazards };
  }

  private *detectSteps(starts: Owner[], unabortable?: ReadonlySet<string>, resources: Resource[] = []): Steps<Found[]> {
    if (starts.length === 0 && resources.length === 0) return [];
    const live: Owner[] = [];
    let work = 0;
    for (const s of starts.length > 32 ? yield* uniqueSteps(starts) : unique(starts)) {
      if (mayBeOnCycle(s)) live.push(s);
      if (++work % STEP === 0) yield; // the search again after a 30k ring ended starts from all of it
    }
    if (live.length === 0 && resources.length === 0) return [];
    const out: Found[] = [];
    const opts = {
      stamps: this.graph.stamps,
      ...(unabortable?.size ? { unabortable: (o: Owner) => unabortable.has(o.key) } : {}),
      ...(resources.length > 0 ? { resources: unique(resources) } : {}),
    };
    for (const f of yield* findDeadlocksSteps(live, this.victimOrder, opts)) {
      const found = yield* this.toFoundSteps(f);
      if (!out.some((x) => x.deadlock.key === found.deadlock.key)) out.push(found);
    }
    return out;
  }

  private *toFoundSteps(f: FoundDeadlock): Steps<Found> {
    const id = this.newId();
    const detectedAt = this.now();
    const signature = yield* deadlockSignatureSteps(f);
    const keys: string[] = [];
    yield* eachStep(f.waits, (w) => keys.push(w.key));
    const key = (yield* sortSteps(keys, codeUnitOrder)).join(',');
    const ref = (o: Owner): OwnerRef => ({ client: o.client.info.id, owner: o.id });
    const members: OwnerRef[] = [];
    const clients = new Set<ClientId>();
    yield* eachStep(f.members, (o) => {
      members.push(ref(o));
      clients.add(o.client.info.id);
    });
    const waits: WaitRef[] = [];
    yield* eachStep(f.waits, (w) => waits.push({ client: w.owner.client.info.id, waitId: w.id }));
    const report = yield* buildReportSteps(f, { id, namespace: this.namespace, detectedAt }, this.limits, signature);
    const deadlock: Deadlock = {
      id,
      key,
      detectedAt,
      members,
      waits,
      victims: f.victims.map((v) => ({ ...ref(v.owner), waitId: v.wait.id, reason: v.reason })),
      clients: [...clients],
      reorders: f.reorders.map((m) => ({ client: m.waits[0]!.owner.client.info.id, resource: m.resource.name, waits: m.waits.map((w) => w.id) })),
      report,
    };
    return { deadlock, waits: f.waits };
  }
}

/** xs without repeats, in order; a batch's few starts by a scan (a Set costs more below ~32) */
function unique<T>(xs: T[]): T[] {
  if (xs.length < 2) return xs;
  if (xs.length > 32) return [...new Set(xs)];
  const out: T[] = [];
  for (const x of xs) if (!out.includes(x)) out.push(x);
  return out;
}

/** What applying a batch's events gives, besides the graph's change. */
interface BatchOut {
  errors: EventError[];
  starts: Starts;
  hazards: Hazard[];
}

/** Errors and hazards begin as the shared empty list (most batches have neither; pushed makes one). */
const newBatchOut = (): BatchOut => ({ errors: emptyList() as EventError[], starts: newStarts(), hazards: emptyList() as Hazard[] });

/**
 * A cheap, conservative pre-filter before the cycle search (detect.ts step 1), per start: false
 * only when every blocked-by edge out of `o` ends at a holder that waits for nothing (a dead end),
 * or when no edge comes into `o` (below), so `o` lies on no cycle and on no other start's. The
 * usual contended wait — behind a holder that runs, or by an owner that holds nothing yet — is
 * then no search at all, which in a batch saves the Tarjan pass over every start (~10 % of the
 * daemon's CPU at 100 events/frame, issue 11). Edges as detect.ts walks them: to the holders of
 * each resource `o` waits for, and on a FIFO queue to the owners queued there (checked by the
 * queue's size only: never a walk over a long queue). An owner that left the graph within the
 * batch is no start either, and needs no lookup to tell: graph.ts removes its waits before it
 * drops it, and nothing gives a dropped owner a wait again (a wait finds its owner by id).
 */
function mayBeOnCycle(o: Owner): boolean {
  // A cycle through `o` needs an edge into it: a hard one from a waiter for something `o` holds
  // (a task's end included: the task holds its task resource), or a soft one from a FIFO
  // queue-mate behind it. An owner that holds nothing has only the second kind. An edge out of
  // `o` that can lead on goes to a holder that waits itself, or to `o` (a wait for what it holds,
  // and `o` waits): both are counted on the resource (Resource.waitingHolders), so no holder is
  // loaded (in a big graph, the hold and the holder's owner were two cache misses per wait).
  const holdsNothing = o.holds === undefined;
  const ws = o.waits;
  if (ws instanceof Wait) return leadsOn(ws, holdsNothing); // one wait, the common case: no iterator
  for (const w of ws) if (leadsOn(w, holdsNothing)) return true;
  return false;
}

/** mayBeOnCycle for one of the owner's waits. */
function leadsOn(w: Wait, holdsNothing: boolean): boolean {
  if (w.aborting) return false;
  const r = w.resource;
  return (r.fifo && r.queue.size > 1) || (!holdsNothing && r.waitingHolders > 0);
}
