// The in-memory wait-for graph: owners, resources, holds and waits.
//
// Every resource is modelled as a COUNTED resource (Holt's model), which lets
// one detection algorithm serve every kind exactly:
//   mutex      capacity 1; a request takes 1 unit
//   semaphore  capacity N; a request takes k units
//   rwlock     capacity EXCLUSIVE; shared takes 1 unit, exclusive takes all of
//              them — so shared holders never block each other, and any
//              holder blocks a writer. An owner holding `s` shared units that
//              asks for exclusive (an upgrade) asks for EXCLUSIVE - s more.
//   task       "wait until owner T ends": a resource T holds entirely for its
//              whole life; waiters ask for 1 unit, so all of them proceed the
//              moment T ends (it releases everything when it completes).
// A request never counts the requester's own holdings, so a task re-locking a
// mutex it holds waits for itself: a self-deadlock, found like any other.
import type { LockMode, OwnerAttributes, ResourceKind, TraceContext } from '@deadlockd/proto';
import type { ClientInfo } from './types.js';
import { emptySet } from './empty.js';
import { byOwner, byResource, findHold, holdsIn, someHold, type SmallIndex } from './small-index.js';

export const EXCLUSIVE = 2 ** 30;

export type Kind = ResourceKind | 'task';

export class ClientState {
  readonly owners = new Map<string, Owner>();
  readonly resources = new Map<string, Resource>();
  readonly waits = new Map<string, Wait>();
  holdCount = 0;
  constructor(readonly info: ClientInfo) {}
}

export class Owner {
  name: string;
  priority = 0;
  abortable = true;
  startedAt: number;
  /** the task's user attributes and OpenTelemetry span (owner event), for reports */
  attributes: OwnerAttributes | undefined = undefined;
  trace: TraceContext | undefined = undefined;
  /** what this owner holds, by resource (see hold-index.ts; change it through graph.ts only) */
  holds: SmallIndex<Hold, Owner | Resource> = undefined;
  waits: Set<Wait> = emptySet();
  /** created the first time another owner waits for this one to end */
  taskResource: Resource | undefined;
  /** traversal stamp (avoids allocating visited sets on the hot path) */
  mark = 0;
  constructor(
    readonly client: ClientState,
    readonly id: string,
    now: number,
  ) {
    this.name = id;
    this.startedAt = now;
  }
  /** `<client>/<owner>`: built on demand (reports, ordering), not stored */
  get key(): string {
    return `${this.client.info.id}/${this.id}`;
  }
  holdOn(r: Resource): Hold | undefined {
    return findHold(this.holds, r, byResource);
  }
  allHolds(): Iterable<Hold> {
    return holdsIn(this.holds);
  }
  /** pending waits that are not being aborted already (the set itself when none is: nearly always) */
  liveWaits(): Iterable<Wait> {
    for (const w of this.waits) if (w.aborting) return [...this.waits].filter((x) => !x.aborting);
    return this.waits;
  }
  hasLiveWait(): boolean {
    for (const w of this.waits) if (!w.aborting) return true;
    return false;
  }
}

/**
 * A resource's pending waits in arrival order (a Set keeps insertion order, deletes in O(1)), and
 * a bound on what any of them asks for, so that a capacity decrease is checked without a walk.
 * A queue exists only while something waits (an idle resource has the shared empty set).
 */
export class WaitQueue extends Set<Wait> {
  /** ≥ the units of every wait in the queue (exact after graph.ts walked it on a capacity decrease) */
  maxUnits = 0;
}

export class Resource {
  /** who holds this resource, by owner (see hold-index.ts; change it through graph.ts only) */
  holders: SmallIndex<Hold, Owner | Resource> = undefined;
  /** units held, summed over holders */
  held = 0;
  /** pending waits in arrival order: a WaitQueue, or the shared empty set while nothing waits */
  queue: Set<Wait> = emptySet();
  /**
   * The queue is in Wait.seq order (no reorder moved a wait since it was last empty), so a wait's
   * place in it is its seq: detect.ts finds the nearest start ahead by binary search, not a walk.
   */
  queueBySeq = true;
  /**
   * Owners queued here that also wait for something else. Only they can lead
   * a cycle search anywhere new through this queue (see detect.ts), so hot
   * locks with thousands of plain waiters cost nothing extra per search.
   */
  multiWaiters: Set<Owner> = emptySet();
  /**
   * rwlock upgrades among the queued waits: a shared holder asking for
   * exclusive is served before every waiter that holds nothing (as the SDK
   * does); upgrades keep their arrival order among themselves.
   */
  upgrades: Set<Wait> = emptySet();
  /** re-acquisitions by a holder are counted (Hold.counts), not waited for (mutex, rwlock) */
  reentrant = false;
  /** lockdep-style lock class (hazards.ts): resources of one class are one node of the order graph */
  lockClass: string | undefined = undefined;
  /** clients that declared this shared resource (it is dropped when none is left and it is idle) */
  declaredBy: Set<ClientState> = emptySet();
  mark = 0;
  /** the declaring client's id for a local resource, '' for a shared one */
  private readonly scope: string;
  readonly name: string;
  readonly kind: Kind;
  readonly global: boolean;
  capacity: number;
  fifo: boolean;
  label: string;
  /** for task resources: the owner whose end it stands for */
  readonly taskOf: Owner | undefined;
  constructor(o: { scope: string; name: string; kind: Kind; global: boolean; capacity: number; fifo: boolean; label: string; taskOf?: Owner }) {
    this.scope = o.scope;
    this.name = o.name;
    this.kind = o.kind;
    this.global = o.global;
    this.capacity = o.capacity;
    this.fifo = o.fifo;
    this.label = o.label;
    this.taskOf = o.taskOf;
  }
  /** `g:<name>` (shared), `<client>:<name>` (local), `task:<client>/<owner>`: built on demand */
  get key(): string {
    if (this.taskOf) return `task:${this.taskOf.key}`;
    return this.global ? `g:${this.name}` : `${this.scope}:${this.name}`;
  }
  isHeldBy(o: Owner): boolean {
    return findHold(this.holders, o, byOwner) !== undefined;
  }
  allHolds(): Iterable<Hold> {
    return holdsIn(this.holders);
  }
  /** whether some holder passes `test` (no iterator: the per-wait pre-filter's hot path) */
  someHolder(test: (o: Owner) => boolean): boolean {
    return someHold(this.holders, (h) => test(h.owner));
  }
  holderOwners(): Owner[] {
    const out: Owner[] = [];
    this.addHolderOwners(out);
    return out;
  }
  /** pushes every holder onto `out` (a search's successor list: no array of its own) */
  addHolderOwners(out: (Owner | Resource)[]): void {
    const ix = this.holders;
    if (ix === undefined) return;
    if (Array.isArray(ix)) for (const h of ix) out.push(h.owner);
    else if (ix instanceof Map) for (const h of ix.values()) out.push(h.owner);
    else out.push(ix.owner);
  }
  get free(): number {
    return this.capacity - this.held;
  }
  /** Pending waits in the order they will be granted (FIFO, upgrades first): the queue itself when no upgrade waits. */
  inGrantOrder(): Iterable<Wait> {
    if (this.upgrades.size === 0) return this.queue;
    const order = [...this.upgrades];
    for (const w of this.queue) if (!this.upgrades.has(w)) order.push(w);
    return order;
  }
  idle(): boolean {
    return this.holders === undefined && this.queue.size === 0;
  }
}

export interface Hold {
  owner: Owner;
  resource: Resource;
  units: number;
  since: number;
  stack?: string | undefined;
  /**
   * Reentrant resources only: how many acquisitions of each mode the holder has not released yet
   * (a mutex counts as exclusive). Units follow the strongest: any exclusive → all, else 1 shared.
   */
  counts?: { shared: number; exclusive: number } | undefined;
}

export class Wait {
  aborting = false;
  /** ids of active deadlocks this wait is a member wait of */
  deadlocks: string[] | undefined;
  /** the OpenTelemetry span the wait began in (wait event), for reports */
  trace: TraceContext | undefined = undefined;
  readonly id: string;
  readonly owner: Owner;
  readonly resource: Resource;
  readonly units: number;
  readonly mode: LockMode | undefined;
  readonly since: number;
  readonly stack: string | undefined;
  /** arrival order in the namespace: a FIFO queue grants in this order */
  readonly seq: number;
  constructor(o: { id: string; owner: Owner; resource: Resource; units: number; mode: LockMode | undefined; since: number; stack: string | undefined; seq: number }) {
    this.id = o.id;
    this.owner = o.owner;
    this.resource = o.resource;
    this.units = o.units;
    this.mode = o.mode;
    this.since = o.since;
    this.stack = o.stack;
    this.seq = o.seq;
  }
  get key(): string {
    return `${this.owner.client.info.id}/${this.id}`;
  }
}

export function modeOf(resource: Resource, units: number): LockMode | undefined {
  if (resource.kind !== 'rwlock') return undefined;
  return units >= EXCLUSIVE ? 'exclusive' : 'shared';
}
