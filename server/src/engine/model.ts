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
import { packTime, unpackTime } from './packed-time.js';
import { byOwner, byResource, findHold, holdsIn, type SmallIndex } from './small-index.js';

/**
 * A rwlock's units, and the most any resource has. Every count of units (a request, a hold, a
 * resource's `held`, which sums its holders) must stay a SMI, below 2^31: one larger number stored
 * in a field would make that field a boxed double in every object of its class, for every client
 * (packed-time.ts). 2^24 leaves room for 128 exclusive holders of one rwlock at once (a shared one
 * is held by several clients, and one's hold may reach the daemon before another's release), and
 * for 16,777,215 readers.
 */
export const EXCLUSIVE = 2 ** 24;

export type Kind = ResourceKind | 'task';

export class ClientState {
  /** by id (replaced by a new Map when its last owner goes: empty.ts, withoutKey) */
  owners = new Map<string, Owner>();
  readonly resources = new Map<string, Resource>();
  /**
   * The connection's resource handles (ResourceEvent.handle): handle i names handles[i]
   * (undefined: used up by a refused declaration). Dense by the protocol's rule (a new handle is
   * the next unused one), at most maxResourcesPerClient slots; emptied with the resources when
   * the client's state is replaced.
   */
  handles: (Resource | undefined)[] = [];
  /** pending waits by id (replaced by a new Map when its last wait goes: empty.ts, withoutKey) */
  waits = new Map<string, Wait>();
  holdCount = 0;
  constructor(readonly info: ClientInfo) {}
}

/** What most owners never set, kept off the Owner (one field) until something is set. */
class OwnerExtras {
  /** undefined: the owner's id */
  name: string | undefined = undefined;
  priority = 0;
  abortable = true;
  /** the task's user attributes and OpenTelemetry span (owner event), for reports */
  attributes: OwnerAttributes | undefined = undefined;
  trace: TraceContext | undefined = undefined;
  /** created the first time another owner waits for this one to end */
  taskResource: Resource | undefined = undefined;
}
const NO_OWNER_EXTRAS: Readonly<OwnerExtras> = Object.freeze(new OwnerExtras());

/**
 * `extras` with field `k` set to `v`: an extras object is made on the first write of a value
 * other than the default (what reads see while there is none), and never for a default.
 */
function withExtra<T, K extends keyof T>(extras: T | undefined, defaults: Readonly<T>, make: new () => T, k: K, v: T[K]): T | undefined {
  if (extras === undefined) {
    if (v === defaults[k]) return undefined;
    extras = new make();
  }
  extras[k] = v;
  return extras;
}

// Owners and resources are the objects a daemon holds most of (one each per hold in the worst
// case), so each keeps only what the hot paths touch as fields and packs the rest: flags in one
// small integer, rarely set fields in an extras object made on first write (withExtra),
// timestamps through packed-time.ts. The accessors keep the fields' names, so no caller knows.
// (An Owner went from 120 to 80 bytes, 104 with its own hold's three fields (Hold, below), a
// Resource from 168 to 96, and neither allocates a heap number.)
export class Owner {
  /** what this owner holds, by resource (see hold-index.ts; change it through graph.ts only) */
  holds: SmallIndex<Hold, Owner | Resource> = undefined;
  /** pending waits: the shared empty set, the one Wait, or a Set from the second on (WaitsView) */
  waits: WaitsView = emptySet();
  /** traversal stamp (avoids allocating visited sets on the hot path) */
  mark = 0;
  private started: number;
  private extras: OwnerExtras | undefined = undefined;
  // The owner's own hold (OwnHold below): what it holds there and how many units since when;
  // `resource` is undefined while that slot is free. Only graph.ts's addHold and removeHold set
  // them; everything else reads them as a Hold's fields.
  resource: Resource | undefined = undefined;
  units = 0;
  private heldAt = 0;
  constructor(
    readonly client: ClientState,
    readonly id: string,
    now: number,
  ) {
    this.started = packTime(now);
  }
  // ---- the owner as its own hold (OwnHold): a Hold's reads ----
  get owner(): Owner {
    return this;
  }
  get since(): number {
    return unpackTime(this.heldAt);
  }
  /** an own hold is never reentrant (those count their acquisitions: a HoldRecord) */
  get counts(): undefined {
    return undefined;
  }
  /** Takes the owner's own hold slot for a hold of `units` of `r` since `since` (graph.ts, addHold). */
  holdOwn(r: Resource, units: number, since: number): OwnHold {
    this.resource = r;
    this.units = units;
    this.heldAt = packTime(since);
    return this as OwnHold;
  }
  /** Frees the slot (graph.ts, removeHold). */
  freeOwnHold(): void {
    this.resource = undefined;
    this.units = 0;
  }
  private setExtra<K extends keyof OwnerExtras>(k: K, v: OwnerExtras[K]): void {
    this.extras = withExtra(this.extras, NO_OWNER_EXTRAS, OwnerExtras, k, v);
  }
  get name(): string {
    return this.extras?.name ?? this.id;
  }
  set name(v: string) {
    this.setExtra('name', v === this.id ? undefined : v);
  }
  get priority(): number {
    return (this.extras ?? NO_OWNER_EXTRAS).priority;
  }
  set priority(v: number) {
    this.setExtra('priority', v);
  }
  get abortable(): boolean {
    return (this.extras ?? NO_OWNER_EXTRAS).abortable;
  }
  set abortable(v: boolean) {
    this.setExtra('abortable', v);
  }
  get startedAt(): number {
    return unpackTime(this.started);
  }
  set startedAt(v: number) {
    this.started = packTime(v);
  }
  get attributes(): OwnerAttributes | undefined {
    return this.extras?.attributes;
  }
  set attributes(v: OwnerAttributes | undefined) {
    this.setExtra('attributes', v);
  }
  get trace(): TraceContext | undefined {
    return this.extras?.trace;
  }
  set trace(v: TraceContext | undefined) {
    this.setExtra('trace', v);
  }
  get taskResource(): Resource | undefined {
    return this.extras?.taskResource;
  }
  set taskResource(v: Resource | undefined) {
    this.setExtra('taskResource', v);
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
    const ws = this.waits;
    if (ws instanceof Wait) return ws.aborting ? [] : ws; // one wait: no iterator (hot path)
    for (const w of ws) if (w.aborting) return [...ws].filter((x) => !x.aborting);
    return ws;
  }
  hasLiveWait(): boolean {
    const ws = this.waits;
    if (ws instanceof Wait) return !ws.aborting; // one wait: no iterator (hot path)
    for (const w of ws) if (!w.aborting) return true;
    return false;
  }
}

/**
 * What reads a resource's queue or an owner's pending waits sees: those waits, in arrival order.
 * It is the shared empty set while there are none, the Wait itself while there is one (a Wait
 * answers for a set of one: most contended resources have one waiter and most waiting owners
 * one wait, and a Set made per first wait was ~150 B of young garbage, a queue's and an owner's
 * both per contended wait), and a Set (for a queue, a WaitQueue) from the second on; only
 * graph.ts's addWait and removeWait change them.
 */
export interface WaitsView extends Iterable<Wait> {
  readonly size: number;
  has(w: Wait): boolean;
  values(): IterableIterator<Wait>;
}

/**
 * A resource's pending waits in arrival order (a Set keeps insertion order, deletes in O(1)), and
 * a bound on what any of them asks for, so that a capacity decrease is checked without a walk.
 * Made when a second wait joins the queue (one wait is its own queue: WaitsView).
 */
export class WaitQueue extends Set<Wait> implements WaitsView {
  /** ≥ the units of every wait in the queue (exact after graph.ts walked it on a capacity decrease) */
  maxUnits = 0;
}

/** What most resources never set (see Owner), made on first write. */
class ResourceExtras {
  multiWaiters: Set<Owner> = emptySet();
  upgrades: Set<Wait> = emptySet();
  declaredBy: Set<ClientState> = emptySet();
  lockClass: string | undefined = undefined;
  /** undefined: the resource's name */
  label: string | undefined = undefined;
  taskOf: Owner | undefined = undefined;
}
const NO_RESOURCE_EXTRAS: Readonly<ResourceExtras> = Object.freeze(new ResourceExtras());

const KINDS: readonly Kind[] = ['mutex', 'rwlock', 'semaphore', 'task'];
const KIND_BITS = 3;
const GLOBAL = 4;
const FIFO = 8;
const REENTRANT = 16;
const QUEUE_BY_SEQ = 32;
/**
 * waitingHolders counts in the bits above the flags, in steps of this (no field of its own: a
 * Resource is one of the objects a daemon holds most of). It saturates at MAX_WAITING_HOLDERS,
 * which keeps `flags` a small integer; a saturated count stays there, which only makes the
 * pre-filter search where it need not (no 16M owners hold one resource in a real heap).
 */
const WAITING_SHIFT = 6;
const WAITING_HOLDER = 1 << WAITING_SHIFT;
const MAX_WAITING_HOLDERS = 2 ** 24;

export class Resource {
  /** who holds this resource, by owner (see hold-index.ts; change it through graph.ts only) */
  holders: SmallIndex<Hold, Owner | Resource> = undefined;
  /** units held, summed over holders */
  held = 0;
  /** pending waits in arrival order: the shared empty set, the one Wait, or a WaitQueue (WaitsView) */
  queue: WaitsView = emptySet();
  mark = 0;
  capacity: number;
  readonly name: string;
  /** the declaring client's id for a local resource, '' for a shared one */
  private readonly scope: string;
  /** kind (KIND_BITS), the booleans below, and waitingHolders above them (WAITING_HOLDER) */
  private flags: number;
  private extras: ResourceExtras | undefined = undefined;
  constructor(o: { scope: string; name: string; kind: Kind; global: boolean; capacity: number; fifo: boolean; label: string; taskOf?: Owner }) {
    this.scope = o.scope;
    this.name = o.name;
    this.capacity = o.capacity;
    this.flags = KINDS.indexOf(o.kind) | (o.global ? GLOBAL : 0) | (o.fifo ? FIFO : 0) | QUEUE_BY_SEQ;
    this.label = o.label;
    this.setExtra('taskOf', o.taskOf);
  }
  private setExtra<K extends keyof ResourceExtras>(k: K, v: ResourceExtras[K]): void {
    this.extras = withExtra(this.extras, NO_RESOURCE_EXTRAS, ResourceExtras, k, v);
  }
  private setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }
  /**
   * How many of its holders wait for something (their Owner.waits is not empty), for the
   * pre-filter (engine.ts, mayBeOnCycle, says why); graph.ts keeps it exact.
   */
  get waitingHolders(): number {
    return this.flags >>> WAITING_SHIFT;
  }
  holderStartsWaiting(): void {
    if (this.waitingHolders < MAX_WAITING_HOLDERS) this.flags += WAITING_HOLDER;
  }
  holderStopsWaiting(): void {
    if (this.waitingHolders < MAX_WAITING_HOLDERS) this.flags -= WAITING_HOLDER;
  }
  get kind(): Kind {
    return KINDS[this.flags & KIND_BITS] as Kind;
  }
  get global(): boolean {
    return (this.flags & GLOBAL) !== 0;
  }
  get fifo(): boolean {
    return (this.flags & FIFO) !== 0;
  }
  /** re-acquisitions by a holder are counted (Hold.counts), not waited for (mutex, rwlock) */
  get reentrant(): boolean {
    return (this.flags & REENTRANT) !== 0;
  }
  set reentrant(v: boolean) {
    this.setFlag(REENTRANT, v);
  }
  /**
   * The queue is in Wait.seq order (no reorder moved a wait since it was last empty), so a wait's
   * place in it is its seq: detect.ts finds the nearest start ahead by binary search, not a walk.
   */
  get queueBySeq(): boolean {
    return (this.flags & QUEUE_BY_SEQ) !== 0;
  }
  set queueBySeq(v: boolean) {
    this.setFlag(QUEUE_BY_SEQ, v);
  }
  /**
   * Owners queued here that also wait for something else. Only they can lead
   * a cycle search anywhere new through this queue (see detect.ts), so hot
   * locks with thousands of plain waiters cost nothing extra per search.
   */
  get multiWaiters(): Set<Owner> {
    return (this.extras ?? NO_RESOURCE_EXTRAS).multiWaiters;
  }
  set multiWaiters(v: Set<Owner>) {
    this.setExtra('multiWaiters', v);
  }
  /**
   * rwlock upgrades among the queued waits: a shared holder asking for
   * exclusive is served before every waiter that holds nothing (as the SDK
   * does); upgrades keep their arrival order among themselves.
   */
  get upgrades(): Set<Wait> {
    return (this.extras ?? NO_RESOURCE_EXTRAS).upgrades;
  }
  set upgrades(v: Set<Wait>) {
    this.setExtra('upgrades', v);
  }
  /** clients that declared this shared resource (it is dropped when none is left and it is idle) */
  get declaredBy(): Set<ClientState> {
    return (this.extras ?? NO_RESOURCE_EXTRAS).declaredBy;
  }
  set declaredBy(v: Set<ClientState>) {
    this.setExtra('declaredBy', v);
  }
  /** lockdep-style lock class (hazards.ts): resources of one class are one node of the order graph */
  get lockClass(): string | undefined {
    return this.extras?.lockClass;
  }
  set lockClass(v: string | undefined) {
    this.setExtra('lockClass', v);
  }
  get label(): string {
    return this.extras?.label ?? this.name;
  }
  set label(v: string) {
    this.setExtra('label', v === this.name ? undefined : v);
  }
  /** for task resources: the owner whose end it stands for */
  get taskOf(): Owner | undefined {
    return this.extras?.taskOf;
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

/**
 * A hold is a HoldRecord, or an owner's own hold: the Owner object itself while its `resource` is
 * set. Most owners hold one thing at a time (a task, a request, a pool checkout), and a record per
 * hold was 56 B of the ~350 a hold with its own owner and mutex costs the daemon; so an owner's
 * first hold (unless reentrant) lives in three fields of the owner, and the index entries that
 * would name the record name the owner: in its own `holds` and in the resource's `holders`, as a
 * Wait is its resource's queue while it waits alone. Both kinds answer a Hold's reads (owner,
 * resource, units, since, counts), so no reader knows which it has; graph.ts alone makes and
 * ends them. (A hold keeps no stack: an event's `stack` goes to its wait, which reports show.) A capture that outlives the graph's next
 * change copies what it needs of a hold (export.ts): an own hold's fields change when its slot
 * is used again.
 */
export type Hold = HoldRecord | OwnHold;
/** An Owner while it is its own hold: its `resource` is set. */
export type OwnHold = Owner & { readonly resource: Resource };

export class HoldRecord {
  /**
   * Reentrant resources only: how many acquisitions of each mode the holder has not released yet
   * (a mutex counts as exclusive). Units follow the strongest: any exclusive → all, else 1 shared.
   * Declared, not initialised: a field only reentrant holds get.
   */
  declare counts?: { shared: number; exclusive: number } | undefined;
  private readonly at: number;
  constructor(
    readonly owner: Owner,
    readonly resource: Resource,
    public units: number,
    since: number,
  ) {
    this.at = packTime(since);
  }
  get since(): number {
    return unpackTime(this.at);
  }
}

export class Wait implements WaitsView {
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
  private readonly at: number;
  readonly stack: string | undefined;
  /**
   * Arrival order in the namespace: a FIFO queue grants in this order. Only the order counts: the
   * graph numbers its live waits again, in this order, before the numbers would leave the SMIs
   * (graph.ts, nextSeq).
   */
  seq: number;
  constructor(o: { id: string; owner: Owner; resource: Resource; units: number; mode: LockMode | undefined; since: number; stack: string | undefined; seq: number }) {
    this.id = o.id;
    this.owner = o.owner;
    this.resource = o.resource;
    this.units = o.units;
    this.mode = o.mode;
    this.at = packTime(o.since);
    this.stack = o.stack;
    this.seq = o.seq;
  }
  get since(): number {
    return unpackTime(this.at);
  }
  // A wait is its resource's whole queue while it waits there alone, and its owner's whole set of
  // pending waits while it is the owner's only one (WaitsView).
  get size(): 1 {
    return 1;
  }
  has(w: Wait): boolean {
    return w === this;
  }
  values(): IterableIterator<Wait> {
    return [this].values();
  }
  [Symbol.iterator](): IterableIterator<Wait> {
    return this.values();
  }
  get key(): string {
    return `${this.owner.client.info.id}/${this.id}`;
  }
}

export function modeOf(resource: Resource, units: number): LockMode | undefined {
  if (resource.kind !== 'rwlock') return undefined;
  return units >= EXCLUSIVE ? 'exclusive' : 'shared';
}
