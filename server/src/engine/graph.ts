// Applies client events to the wait-for graph. Validation happens before any
// change, so an event that fails leaves the graph exactly as it was.
//
// Each mutation that can create a deadlock adds the owners a search must start
// from to `starts`; which events those are, and why the others need no search,
// is README.md's "When detection runs".
import type { ClientEvent, ErrorCode, LockMode } from '@deadlockd/proto';
import { ClientState, EXCLUSIVE, HoldRecord, Owner, Resource, Wait, WaitQueue, type Hold, type WaitsView } from './model.js';
import { emptyList, emptySet, pushed, withoutKey, writable } from './empty.js';
import { byOwner, byResource, forEachHold, withHold, withoutHold } from './hold-index.js';
import { runToEnd, STEP, type Steps } from './steps.js';
import type { ClientInfo, EngineLimits } from './types.js';
import { Stamps } from './marks.js';

export class EventRejected extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const reject = (code: ErrorCode, message: string): never => {
  throw new EventRejected(code, message);
};

type OwnerEvent = Extract<ClientEvent, { type: 'owner' }>;
type ResourceEvent = Extract<ClientEvent, { type: 'resource' }>;
type WaitEvent = Extract<ClientEvent, { type: 'wait' }>;
type HoldEvent = Extract<ClientEvent, { type: 'hold' }>;
type ReleaseEvent = Extract<ClientEvent, { type: 'release' }>;

/**
 * Where a batch's search starts (README.md, "When detection runs"): owners whose new wait may
 * close a cycle, and resources that have fewer units left for their waiters, whose search looks
 * for a cycle through the resource itself (detect.ts) instead of starting from every waiter.
 */
export interface Starts {
  owners: Owner[];
  resources: Resource[];
  /** every wait the batch added (the long-wait log's deadlines); some may have ended again since */
  waits: Wait[];
  /**
   * The batch's clock reading (Graph.clock), taken at its first event without a `since`: the
   * events of one frame arrive at one instant, and Date.now() per hold and wait was a tenth of
   * the engine's time on a busy connection.
   */
  at: number | undefined;
}

// Each list begins as the shared empty one, and its first start makes it a one-slot array
// (pushed): most batches add one start or none, and a first push into [] allocates 16 slots.
export const newStarts = (): Starts => ({ owners: emptyList() as Owner[], resources: emptyList() as Resource[], waits: emptyList() as Wait[], at: undefined });

export const SEQ_LIMIT = 2 ** 30;

export class Graph {
  readonly clients = new Map<string, ClientState>();
  readonly globals = new Map<string, Resource>();
  private seq = 0;
  /** grows with every change (an event applied, a client cleared, a queue reordered): equal, the graph is the same */
  changes = 0;
  ownerCount = 0;
  waitCount = 0;
  holdCount = 0;
  localResourceCount = 0;

  constructor(
    private readonly limits: EngineLimits,
    private readonly now: () => number,
    /** called whenever a wait leaves the graph (granted, cancelled, dropped) */
    private readonly onWaitGone: (w: Wait) => void,
  ) {}

  /** traversal stamps of this graph's walks (marks.ts) */
  readonly stamps = new Stamps(() => this.resetMarks());

  /**
   * The next wait's arrival number (Wait.seq). It stays a SMI for the reason marks.ts gives for its
   * stamps (one double stored in Wait.seq would box every wait's from then on; a namespace taking
   * 100,000 waits a second passes 2^31 in six hours): at SEQ_LIMIT the live waits are numbered
   * again from 1 in their order, which is all a seq says (FIFO grant order, a wait's place in a
   * queue by seq). Once every 2^30 waits, a sort of the live waits (at most maxWaitsPerNamespace).
   * Never during a search: the namespace applies no event while one is under way.
   */
  private nextSeq(): number {
    if (this.seq >= SEQ_LIMIT) {
      const live: Wait[] = [];
      for (const c of this.clients.values()) for (const w of c.waits.values()) live.push(w);
      live.sort((a, b) => a.seq - b.seq);
      for (let i = 0; i < live.length; i++) (live[i] as Wait).seq = i + 1;
      this.seq = live.length;
    }
    return ++this.seq;
  }

  /** Tests: the next wait's seq is n + 1 (to cross SEQ_LIMIT without 2^30 waits). */
  seqFrom(n: number): void {
    this.seq = n;
  }

  /**
   * Every owner's and resource's traversal mark back to 0 (marks.ts, when the stamps start again):
   * one pass over the whole graph, unsliced, once per 2^30 walks.
   */
  private resetMarks(): void {
    for (const c of this.clients.values()) {
      for (const o of c.owners.values()) {
        o.mark = 0;
        if (o.taskResource) o.taskResource.mark = 0;
      }
      for (const r of c.resources.values()) r.mark = 0;
    }
    for (const r of this.globals.values()) r.mark = 0;
  }

  addClient(info: ClientInfo): ClientState {
    const existing = this.clients.get(info.id);
    if (existing) return existing;
    const c = new ClientState(info);
    this.clients.set(info.id, c);
    return c;
  }

  /** Drops every owner, wait, hold and local resource of a client. */
  clearClient(c: ClientState): void {
    runToEnd(this.clearClientSteps(c));
  }

  /** clearClient, pausing every STEP owners and resources (a client with 50,000 holds was a 100 ms pass) */
  *clearClientSteps(c: ClientState): Steps<void> {
    this.changes++;
    let work = 0;
    for (const o of [...c.owners.values()]) {
      this.dropOwner(o);
      if (++work % STEP === 0) yield;
    }
    for (const r of [...c.resources.values()]) {
      if (r.global) {
        r.declaredBy.delete(c);
        this.maybeDropGlobal(r);
      } else this.localResourceCount--;
      if (++work % STEP === 0) yield;
    }
    c.resources.clear();
    c.handles = [];
  }

  /** The client leaves the graph with everything it had, pausing as clearClientSteps does. */
  *removeClientSteps(c: ClientState): Steps<void> {
    yield* this.clearClientSteps(c);
    this.clients.delete(c.info.id);
  }

  /** Applies one event; adds where a deadlock search must start to `starts`. */
  apply(c: ClientState, e: ClientEvent, starts: Starts): void {
    this.changes++;
    // cases by how often they come (hold and release, then wait and grant): a switch on
    // strings compares them in this order, and an event's type is not known to be interned
    switch (e.type) {
      case 'hold':
        return this.reportHold(c, e, starts);
      case 'release':
        return this.release(c, e);
      case 'wait':
        return this.addWait(c, e, starts);
      case 'grant': {
        const w = c.waits.get(e.waitId) ?? reject('UNKNOWN_WAIT', `no pending wait '${e.waitId}'`);
        this.removeWait(w);
        if (w.resource.kind === 'task') return;
        if (w.resource.reentrant) this.addReentrantHold(w.owner, w.resource, w.mode ?? 'exclusive', e.since ?? this.clock(starts));
        else this.addHold(w.owner, w.resource, w.units, e.since ?? this.clock(starts));
        // A grant to an owner still blocked elsewhere takes units the reduction
        // assumed it would only take on its way to finishing (a shared lock
        // may grant in any order): like a late hold.
        if (w.owner.hasLiveWait()) this.unitsTaken(w.owner, w.resource, starts);
        return;
      }
      case 'cancel': {
        const w = c.waits.get(e.waitId) ?? reject('UNKNOWN_WAIT', `no pending wait '${e.waitId}'`);
        this.removeWait(w);
        return;
      }
      case 'resource':
        return this.declareResource(c, e, starts);
      case 'owner':
        return this.declareOwner(c, e, starts);
      case 'end': {
        const o = c.owners.get(e.owner);
        if (o) this.dropOwner(o);
        return;
      }
      case 'order':
        return; // lock-order facts are the engine's LockOrder's business (hazards.ts)
    }
  }

  // ---- owners ---------------------------------------------------------------

  /** now, read once per batch (Starts.at) */
  private clock(starts: Starts): number {
    return (starts.at ??= this.now());
  }

  private ownerFor(c: ClientState, id: string, starts: Starts): Owner {
    let o = c.owners.get(id);
    if (!o) {
      if (c.owners.size >= this.limits.maxOwnersPerClient)
        reject('LIMIT_EXCEEDED', `client has ${c.owners.size} owners (maxOwnersPerClient)`);
      if (this.ownerCount >= this.limits.maxOwnersPerNamespace)
        reject('LIMIT_EXCEEDED', `namespace has ${this.ownerCount} owners (maxOwnersPerNamespace)`);
      o = new Owner(c, id, this.clock(starts));
      c.owners.set(id, o);
      this.ownerCount++;
    }
    return o;
  }

  private declareOwner(c: ClientState, e: OwnerEvent, starts: Starts): void {
    const o = this.ownerFor(c, e.owner, starts);
    if (e.name !== undefined) o.name = e.name;
    if (e.priority !== undefined) o.priority = e.priority;
    if (e.abortable !== undefined) o.abortable = e.abortable;
    if (e.startedAt !== undefined) o.startedAt = e.startedAt;
    if (e.attributes !== undefined) o.attributes = e.attributes;
    if (e.trace !== undefined) o.trace = e.trace;
  }

  /** The owner ended: its holds and waits go; waits on its completion are satisfied. */
  private dropOwner(o: Owner): void {
    // removeWait/removeHold change these collections: copy only when there is something to remove
    if (o.waits.size > 0) for (const w of [...o.waits]) this.removeWait(w);
    if (o.holds !== undefined) for (const h of [...o.allHolds()]) this.removeHold(h);
    const t = o.taskResource;
    if (t && t.queue.size > 0) for (const w of [...t.queue]) this.removeWait(w);
    o.client.owners = withoutKey(o.client.owners, o.id);
    this.ownerCount--;
  }

  // ---- resources ------------------------------------------------------------

  private declareResource(c: ClientState, e: ResourceEvent, starts: Starts): void {
    const global = e.scope === 'global';
    const known = c.resources.get(e.resource) ?? (global ? this.globals.get(e.resource) : undefined);
    if (e.handle !== undefined) this.checkHandle(c, e.handle, known);
    let capacity: number;
    if (e.kind === 'mutex') capacity = 1;
    else if (e.kind === 'rwlock') capacity = EXCLUSIVE;
    else capacity = e.capacity ?? reject('BAD_REQUEST_SIZE', `semaphore '${e.resource}' needs a capacity`);
    // at most EXCLUSIVE units, as a rwlock has (model.ts says why): requests are at most the capacity
    if (capacity > EXCLUSIVE) reject('BAD_REQUEST_SIZE', `semaphore '${e.resource}' has a capacity of ${capacity}; at most ${EXCLUSIVE} units`);
    if (e.kind === 'mutex' && e.capacity !== undefined && e.capacity !== 1)
      reject('BAD_REQUEST_SIZE', `a mutex has capacity 1, not ${e.capacity}`);
    const label = e.label ?? e.resource;
    if (known) {
      if (known.kind !== e.kind)
        reject('RESOURCE_CONFLICT', `'${e.resource}' is a ${known.kind}, not a ${e.kind}`);
      if (known.global !== global)
        reject('RESOURCE_CONFLICT', `'${e.resource}' was declared ${known.global ? 'global' : 'local'}`);
      if (!c.resources.has(e.resource)) {
        if (c.resources.size >= this.limits.maxResourcesPerClient)
          reject('LIMIT_EXCEEDED', `client declared ${c.resources.size} resources (maxResourcesPerClient)`);
        c.resources.set(e.resource, known);
        (known.declaredBy = writable(known.declaredBy)).add(c);
      }
      if (e.label !== undefined) known.label = e.label;
      if (e.class !== undefined) known.lockClass = e.class;
      if (e.reentrant !== undefined && e.reentrant !== known.reentrant)
        reject('RESOURCE_CONFLICT', `'${e.resource}' was declared ${known.reentrant ? '' : 'not '}reentrant`);
      if (capacity !== known.capacity) {
        const decreased = capacity < known.capacity;
        if (decreased) checkFits(known, capacity);
        known.capacity = capacity;
        if (decreased) this.unitsTaken(undefined, known, starts);
      }
      if (e.handle !== undefined) c.handles[e.handle] = known;
      return;
    }
    if (c.resources.size >= this.limits.maxResourcesPerClient)
      reject('LIMIT_EXCEEDED', `client declared ${c.resources.size} resources (maxResourcesPerClient)`);
    if (global && this.globals.size >= this.limits.maxGlobalResources)
      reject('LIMIT_EXCEEDED', `namespace has ${this.globals.size} shared resources (maxGlobalResources)`);
    if (this.localResourceCount + this.globals.size >= this.limits.maxResourcesPerNamespace)
      reject('LIMIT_EXCEEDED', `namespace has ${this.localResourceCount + this.globals.size} resources (maxResourcesPerNamespace)`);
    // The order of waits that reach us from different clients is not the order
    // the real lock will grant them in, so shared resources are never FIFO here.
    const fifo = global ? false : (e.fifo ?? true);
    if (e.reentrant && e.kind !== 'mutex' && e.kind !== 'rwlock')
      reject('BAD_REQUEST_SIZE', `only a mutex or an rwlock can be reentrant, not a ${e.kind}`);
    const r = new Resource({ scope: global ? '' : c.info.id, name: e.resource, kind: e.kind, global, capacity, fifo, label });
    r.reentrant = e.reentrant ?? false;
    r.lockClass = e.class;
    c.resources.set(e.resource, r);
    if (e.handle !== undefined) c.handles[e.handle] = r;
    if (global) {
      this.globals.set(e.resource, r);
      (r.declaredBy = writable(r.declaredBy)).add(c);
    } else this.localResourceCount++;
  }

  private maybeDropGlobal(r: Resource): void {
    if (r.declaredBy.size === 0 && r.idle()) this.globals.delete(r.name);
  }

  private taskResourceOf(t: Owner): Resource {
    if (!t.taskResource) {
      const r = new Resource({ scope: t.client.info.id, name: t.id, kind: 'task', global: false, capacity: EXCLUSIVE, fifo: false, label: `end of task '${t.name}'`, taskOf: t });
      // the hold first: if it is refused (LIMIT_EXCEEDED) the owner must not keep a task
      // resource nobody holds, which would let every later join on it through unblocked
      this.addHold(t, r, EXCLUSIVE, t.startedAt);
      t.taskResource = r;
    }
    return t.taskResource;
  }

  /** Units a request takes, from its kind and mode; validates the shape. */
  private unitsFor(r: Resource, o: Owner | undefined, e: { mode?: string | undefined; units?: number | undefined }): number {
    switch (r.kind) {
      case 'mutex':
        if (e.mode === 'shared') reject('BAD_REQUEST_SIZE', `mutex '${r.name}' has no shared mode`);
        if (e.units !== undefined && e.units !== 1) reject('BAD_REQUEST_SIZE', `mutex '${r.name}' has one unit`);
        return 1;
      case 'rwlock': {
        if (e.units !== undefined) reject('BAD_REQUEST_SIZE', `rwlock '${r.name}' takes a mode, not units`);
        const mode = e.mode ?? reject('BAD_REQUEST_SIZE', `rwlock '${r.name}' needs mode 'shared' or 'exclusive'`);
        if (mode === 'shared') return 1;
        // Upgrade: a shared holder asking for exclusive needs every unit but its own.
        const own = o?.holdOn(r)?.units ?? 0;
        return own > 0 && own < EXCLUSIVE ? EXCLUSIVE - own : EXCLUSIVE;
      }
      case 'semaphore': {
        if (e.mode !== undefined) reject('BAD_REQUEST_SIZE', `semaphore '${r.name}' takes units, not a mode`);
        const units = e.units ?? 1;
        if (units > r.capacity)
          reject('BAD_REQUEST_SIZE', `semaphore '${r.name}' has ${r.capacity} units; ${units} requested`);
        return units;
      }
      case 'task':
        return 1;
    }
  }

  /**
   * A declaration's handle (proto ResourceEvent.handle) is the connection's next unused one, or
   * one that already names this resource: so `handles` stays a dense array, one slot per handle
   * given, and a handle never silently changes what it names. The next unused one is taken here,
   * before the declaration's other checks: a declaration refused for another reason (a shared
   * resource of another kind, a limit) still uses up its handle, which then names nothing, so
   * that the client's numbering and ours stay in step and only that resource's events are
   * refused (UNKNOWN_RESOURCE), not every later declaration.
   */
  private checkHandle(c: ClientState, h: number, known: Resource | undefined): void {
    if (h === c.handles.length) {
      if (h >= this.limits.maxResourcesPerClient)
        reject('LIMIT_EXCEEDED', `client gave ${h} resource handles (maxResourcesPerClient)`);
      c.handles.push(undefined);
      return;
    }
    if (h > c.handles.length)
      reject('RESOURCE_CONFLICT', `handle ${h} skips ahead: the next unused handle on this connection is ${c.handles.length}`);
    const named = c.handles[h];
    if (named !== undefined && named !== known) reject('RESOURCE_CONFLICT', `handle ${h} already names '${named.name}' on this connection`);
  }

  /** The resource a wait, hold or release names: by handle (one array slot) or by name. */
  private declaredResource(c: ClientState, ref: string | number): Resource {
    if (typeof ref === 'number')
      return c.handles[ref] ?? reject('UNKNOWN_RESOURCE', `no resource was declared with handle ${ref} on this connection`);
    return c.resources.get(ref) ?? reject('UNKNOWN_RESOURCE', `resource '${ref}' was not declared on this connection`);
  }

  // ---- waits ----------------------------------------------------------------

  private addWait(c: ClientState, e: WaitEvent, starts: Starts): void {
    if (c.waits.has(e.waitId)) reject('DUPLICATE_WAIT', `wait '${e.waitId}' is already pending`);
    if ((e.resource === undefined) === (e.task === undefined))
      reject('BAD_REQUEST_SIZE', 'a wait names exactly one of `resource` or `task`');
    if (c.waits.size >= this.limits.maxWaitsPerClient)
      reject('LIMIT_EXCEEDED', `client has ${c.waits.size} pending waits (maxWaitsPerClient)`);
    if (this.waitCount >= this.limits.maxWaitsPerNamespace)
      reject('LIMIT_EXCEEDED', `namespace has ${this.waitCount} pending waits (maxWaitsPerNamespace)`);
    let r: Resource;
    if (e.task !== undefined) {
      const t = c.owners.get(e.task) ?? reject('UNKNOWN_OWNER', `task '${e.task}' is not a known owner`);
      r = this.taskResourceOf(t);
    } else r = this.declaredResource(c, e.resource as string | number);
    const known = c.owners.get(e.owner);
    const units = this.unitsFor(r, known, e);
    if (r.reentrant) {
      const h = known?.holdOn(r);
      if (h && covers(h, r.kind === 'rwlock' ? (e.mode as LockMode) : 'exclusive'))
        reject('BAD_REQUEST_SIZE', `'${r.name}' is reentrant and owner '${e.owner}' holds it: a re-acquire is granted at once (report a hold, not a wait)`);
    }
    const o = known ?? this.ownerFor(c, e.owner, starts);
    const w = new Wait({ id: e.waitId, owner: o, resource: r, units, mode: e.mode, since: e.since ?? this.clock(starts), stack: e.stack, seq: this.nextSeq() });
    if (e.trace !== undefined) w.trace = e.trace;
    c.waits.set(w.id, w);
    const q = r.queue;
    if (q.size === 0) r.queue = w; // a queue of one: the wait itself (model.ts, WaitsView)
    else {
      const wq = q instanceof WaitQueue ? q : (r.queue = queueOf(q as Wait));
      wq.add(w);
      if (units > wq.maxUnits) wq.maxUnits = units;
    }
    if (r.kind === 'rwlock' && e.mode === 'exclusive') {
      const own = o.holdOn(r)?.units ?? 0;
      if (own > 0 && own < EXCLUSIVE) (r.upgrades = writable(r.upgrades)).add(w);
    }
    const ow = o.waits;
    if (ow.size === 0) {
      forEachHold(o.holds, startsWaiting); // its first wait
      o.waits = w; // a set of one: the wait itself (model.ts, WaitsView)
    } else (ow instanceof Wait ? (o.waits = new Set([ow])) : (ow as Set<Wait>)).add(w);
    if (o.waits.size === 2) for (const x of o.waits) (x.resource.multiWaiters = writable(x.resource.multiWaiters)).add(o);
    else if (o.waits.size > 2) (r.multiWaiters = writable(r.multiWaiters)).add(o);
    this.waitCount++;
    starts.owners = pushed(starts.owners, o);
    starts.waits = pushed(starts.waits, w);
  }

  removeWait(w: Wait): void {
    const o = w.owner;
    const r = w.resource;
    // A set left empty is replaced by the shared empty one, not emptied: deleting a small set's
    // last member makes V8 allocate a shrunk table for a set about to be dropped (the common case:
    // an owner's only wait, a queue's only waiter).
    if (o.waits.size === 1 && o.waits.has(w)) {
      o.waits = emptySet();
      forEachHold(o.holds, stopsWaiting); // its last wait
    } else if (o.waits instanceof Wait || !(o.waits as Set<Wait>).delete(w)) return; // a Wait other than w: w is not here
    if (r.queue.size === 1) {
      r.queue = emptySet();
      r.queueBySeq = true;
    } else (r.queue as WaitQueue).delete(w);
    r.upgrades.delete(w);
    o.client.waits = withoutKey(o.client.waits, w.id); // the client's last pending wait: a new Map (empty.ts)
    this.waitCount--;
    // Keep multiWaiters exact: o stays listed on a resource only while it waits
    // there and waits for something else too.
    if (o.waits.size <= 1) {
      r.multiWaiters.delete(o);
      for (const x of o.waits) x.resource.multiWaiters.delete(o);
    } else {
      let stillHere = false;
      for (const x of o.waits) if (x.resource === r) stillHere = true;
      if (!stillHere) r.multiWaiters.delete(o);
    }
    this.onWaitGone(w);
    if (r.global) this.maybeDropGlobal(r);
  }

  /** A reorder plan applied: these pending waits of r go to the front of its queue, in order. */
  moveToFront(r: Resource, waits: readonly Wait[]): void {
    this.changes++;
    const moved = waits.filter((w) => r.queue.has(w));
    if (moved.length === 0) return;
    const skip = new Set(moved);
    const q = new WaitQueue(moved);
    for (const w of r.queue) if (!skip.has(w)) q.add(w);
    q.maxUnits = maxUnitsOf(r.queue);
    r.queue = q;
    r.queueBySeq = false;
  }

  // ---- holds ----------------------------------------------------------------

  private reportHold(c: ClientState, e: HoldEvent, starts: Starts): void {
    const r = this.declaredResource(c, e.resource);
    if (r.kind === 'rwlock' && e.mode === undefined)
      reject('BAD_REQUEST_SIZE', `rwlock '${r.name}' needs mode 'shared' or 'exclusive'`);
    // A reported hold is absolute: exclusive means every unit.
    const units = r.kind === 'rwlock' ? (e.mode === 'exclusive' ? EXCLUSIVE : 1) : this.unitsFor(r, undefined, e);
    const o = this.ownerFor(c, e.owner, starts);
    if (r.reentrant) this.addReentrantHold(o, r, r.kind === 'rwlock' ? (e.mode as LockMode) : 'exclusive', e.since ?? this.clock(starts));
    else this.addHold(o, r, units, e.since ?? this.clock(starts));
    // To the daemon a hold it learns of late is a capacity decrease on r.
    this.unitsTaken(o.hasLiveWait() ? o : undefined, r, starts);
  }

  /**
   * Fewer units of r are left for its waiters: the search starts from the taker (if it waits) and
   * from r itself, looking for a cycle through r (detect.ts, `waitersOnCycleThrough`): never a
   * walk of r's queue, so a late hold on a lock with 10k queued waiters costs what it costs with
   * 10. README.md ("When detection runs") says why that finds every deadlock this can create.
   */
  private unitsTaken(taker: Owner | undefined, r: Resource, starts: Starts): void {
    if (r.queue.size === 0) return;
    if (taker) starts.owners = pushed(starts.owners, taker);
    starts.resources = pushed(starts.resources, r);
  }

  private addHold(o: Owner, r: Resource, units: number, since: number): void {
    const h = o.holdOn(r);
    if (h) {
      // r.held moves by what the hold really grew: an exclusive hold reported on top of a
      // shared one is capped at EXCLUSIVE, and r.held must stay the sum of its holders' units.
      const before = h.units;
      // (a semaphore's hold reported again adds up, to at most EXCLUSIVE: model.ts)
      h.units = Math.min(before + units, EXCLUSIVE);
      r.held += h.units - before;
      return;
    }
    if (o.client.holdCount >= this.limits.maxHoldsPerClient)
      reject('LIMIT_EXCEEDED', `client has ${o.client.holdCount} holds (maxHoldsPerClient)`);
    if (this.holdCount >= this.limits.maxHoldsPerNamespace)
      reject('LIMIT_EXCEEDED', `namespace has ${this.holdCount} holds (maxHoldsPerNamespace)`);
    // the owner's own slot when it is free (model.ts, Hold); a reentrant hold counts its
    // acquisitions in a record
    const hold: Hold = o.resource === undefined && !r.reentrant ? o.holdOwn(r, units, since) : new HoldRecord(o, r, units, since);
    o.holds = withHold(o.holds, hold, byResource);
    r.holders = withHold(r.holders, hold, byOwner);
    r.held += units;
    if (o.waits.size > 0) r.holderStartsWaiting();
    o.client.holdCount++;
    this.holdCount++;
  }

  /** One more acquisition of a reentrant resource by `o` in `mode` (a first one creates the hold). */
  private addReentrantHold(o: Owner, r: Resource, mode: LockMode, since: number): void {
    let h = o.holdOn(r);
    if (!h) {
      this.addHold(o, r, 0, since);
      h = o.holdOn(r) as Hold;
    }
    // a reentrant resource's holds are always records (addHold)
    const counts = ((h as HoldRecord).counts ??= { shared: 0, exclusive: 0 });
    if (mode === 'exclusive') counts.exclusive++;
    else counts.shared++;
    this.setReentrantUnits(h);
  }

  private setReentrantUnits(h: Hold): void {
    const c = h.counts as { shared: number; exclusive: number };
    const units = c.exclusive > 0 ? (h.resource.kind === 'rwlock' ? EXCLUSIVE : 1) : c.shared > 0 ? 1 : 0;
    h.resource.held += units - h.units;
    h.units = units;
    if (units === 0) this.removeHold(h);
  }

  private release(c: ClientState, e: ReleaseEvent): void {
    const r = this.declaredResource(c, e.resource);
    const o = c.owners.get(e.owner);
    const h = o?.holdOn(r);
    if (!o || !h) return reject('NOT_HELD', `owner '${e.owner}' does not hold '${r.name}'`);
    if (r.reentrant && h.counts) {
      // one acquisition back; the units go with the last one of the strongest mode held
      const counts = h.counts;
      const mode = r.kind === 'rwlock' ? (e.mode ?? (counts.exclusive > 0 ? 'exclusive' : 'shared')) : 'exclusive';
      if (counts[mode] === 0) reject('NOT_HELD', `owner '${e.owner}' holds '${r.name}' ${mode === 'exclusive' ? 'shared' : 'exclusive'} only, not ${mode}`);
      counts[mode]--;
      return this.setReentrantUnits(h);
    }
    let units: number;
    if (r.kind === 'rwlock') {
      const mode = e.mode ?? (h.units >= EXCLUSIVE ? 'exclusive' : 'shared');
      if (mode === 'exclusive' && h.units < EXCLUSIVE)
        reject('NOT_HELD', `owner '${e.owner}' holds '${r.name}' shared, not exclusive`);
      if (mode === 'shared' && h.units >= EXCLUSIVE)
        reject('NOT_HELD', `owner '${e.owner}' holds '${r.name}' exclusive, not shared`);
      units = mode === 'exclusive' ? h.units : 1;
    } else {
      units = e.units ?? 1;
      if (units > h.units) reject('NOT_HELD', `owner '${e.owner}' holds ${h.units} of '${r.name}', not ${units}`);
    }
    h.units -= units;
    r.held -= units;
    if (h.units === 0) this.removeHold(h);
  }

  private removeHold(h: Hold): void {
    const { owner: o, resource: r } = h;
    if (o.holdOn(r) !== h) return;
    o.holds = withoutHold(o.holds, h, byResource);
    r.holders = withoutHold(r.holders, h, byOwner);
    if (o.waits.size > 0) r.holderStopsWaiting();
    r.held -= h.units;
    if (h === o) o.freeOwnHold();
    else h.units = 0;
    o.client.holdCount--;
    this.holdCount--;
    if (r.global) this.maybeDropGlobal(r);
  }
}

// Resource.waitingHolders counts the holders that wait for something. It changes where an owner's
// waits go from none to some and back (addWait, removeWait), and where an owner that waits gains
// or loses a hold (addHold, removeHold): nowhere else do holds or Owner.waits change.
const startsWaiting = (h: Hold): void => h.resource.holderStartsWaiting();
const stopsWaiting = (h: Hold): void => h.resource.holderStopsWaiting();

/** A queue of two or more, from the wait that was the queue alone (WaitsView). */
function queueOf(first: Wait): WaitQueue {
  const q = new WaitQueue([first]);
  q.maxUnits = first.units;
  return q;
}

/** ≥ the units of every wait in a queue. */
function maxUnitsOf(q: WaitsView): number {
  return q instanceof WaitQueue ? q.maxUnits : q instanceof Wait ? q.units : 0;
}

/**
 * A capacity decrease must leave every queued request possible. The queue's bound answers that
 * without a walk unless some request may be too big; then one walk makes the bound exact.
 */
function checkFits(r: Resource, capacity: number): void {
  const q = r.queue;
  if (maxUnitsOf(q) <= capacity) return;
  let max = 0;
  for (const w of q) {
    if (w.units > capacity)
      reject('BAD_REQUEST_SIZE', `wait '${w.id}' asks for ${w.units} units; capacity ${capacity} would make it impossible`);
    if (w.units > max) max = w.units;
  }
  if (q instanceof WaitQueue) q.maxUnits = max; // a queue of one's bound is its wait's units
}

/** A reentrant hold already grants `mode`: any exclusive acquisition covers both modes, a shared one covers shared. */
function covers(h: Hold, mode: LockMode): boolean {
  const c = h.counts;
  if (!c) return false;
  return c.exclusive > 0 || (mode === 'shared' && c.shared > 0);
}
