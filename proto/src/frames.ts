// The deadlockd wire protocol (WebSocket `/v1/stream`, JSON text frames).
//
// Client → daemon: `hello` first, then `events` batches, plus answers to the
// daemon's questions (`abort_result`, `confirm_result`) and a `snapshot` after
// reconnecting. Daemon → client: `welcome`, `abort`, `confirm`, `deadlock`,
// `hazard`, `error`.
//
// Ids are chosen by the client and scoped to its connection: owner ids, wait
// ids and local resource names of two clients never collide. Resources
// declared with scope `global` are shared by every client of a namespace
// (distributed locks, database advisory locks, named pools).
import { z } from 'zod';
import { ERROR_CODE_LIST } from './errors.js';

export const PROTOCOL_VERSION = 1;

const Id = z.string().min(1).max(256);
const Millis = z.number().finite().nonnegative();
const Stack = z.string().max(8192);
const Units = z.number().int().positive();
/**
 * A small integer a connection gives a resource in its declaration (`resource.handle`), to name
 * it by in later events instead of its name (only to a daemon whose `welcome.features` lists
 * `handles`). Why: the daemon finds a resource by handle in one array slot; by name it is a hash
 * lookup whose misses, in a graph of a million resources, were half a wait's cost (issue 11).
 */
const Handle = z.number().int().nonnegative();
/** A declared resource in a wait, hold or release: its name, or the handle it was declared with. */
const ResourceRef = z.union([Id, Handle]);

export const ResourceKind = z.enum(['mutex', 'rwlock', 'semaphore']);
export type ResourceKind = z.infer<typeof ResourceKind>;
export const LockMode = z.enum(['shared', 'exclusive']);
export type LockMode = z.infer<typeof LockMode>;

// ---- events (inside an `events` batch) -------------------------------------

/**
 * The OpenTelemetry context a wait or task ran in (W3C trace context ids, lowercase hex), sent
 * by SDKs that find an OpenTelemetry API in the app; shown in reports so a deadlock or a long
 * wait leads to the request's trace.
 */
export const TraceContext = z.object({
  traceId: z.string().regex(/^[0-9a-f]{32}$/, 'a trace id is 32 lowercase hex digits'),
  spanId: z.string().regex(/^[0-9a-f]{16}$/, 'a span id is 16 lowercase hex digits'),
});
export type TraceContext = z.infer<typeof TraceContext>;

/** Most attributes on one owner, and their sizes: they travel in every report the owner is in. */
export const MAX_OWNER_ATTRIBUTES = 32;
const AttributeKey = z.string().min(1).max(64);
const AttributeValue = z.union([z.string().max(256), z.number().finite(), z.boolean()]);
/** User attributes of a task (request id, tenant, order id…), shown in reports. */
export const OwnerAttributes = z
  .record(AttributeKey, AttributeValue)
  .refine((a) => Object.keys(a).length <= MAX_OWNER_ATTRIBUTES, `at most ${MAX_OWNER_ATTRIBUTES} attributes`);
export type OwnerAttributes = z.infer<typeof OwnerAttributes>;

/** Declare or update an owner (task, request, transaction). */
export const OwnerEvent = z.object({
  type: z.literal('owner'),
  owner: Id,
  name: z.string().max(512).optional(),
  /** higher = keep alive; the victim is taken from the lowest priority */
  priority: z.number().int().optional(),
  /** false: this owner's waits are never aborted (reported only) */
  abortable: z.boolean().optional(),
  /** epoch milliseconds; defaults to the time the daemon first saw it */
  startedAt: Millis.optional(),
  /** the user's attributes of this task (`task(name, { attributes })`), shown in reports */
  attributes: OwnerAttributes.optional(),
  /** the OpenTelemetry span active when the task started */
  trace: TraceContext.optional(),
});

/** The owner finished: every hold and wait it still has is dropped. */
export const EndEvent = z.object({ type: z.literal('end'), owner: Id });

/**
 * Declare a resource before its first use on this connection. Sending it again
 * with another `capacity` changes the capacity (a decrease can create a
 * deadlock and is checked). `fifo` says that grants follow queue order, as the
 * SDK's own primitives do; shared resources are never treated as FIFO because
 * the daemon cannot know the order of waits that arrive from different clients.
 */
export const ResourceEvent = z.object({
  type: z.literal('resource'),
  resource: Id,
  kind: ResourceKind,
  scope: z.enum(['local', 'global']).default('local'),
  capacity: Units.optional(),
  fifo: z.boolean().optional(),
  /** label shown in reports, e.g. "pg pool orders-db" */
  label: z.string().max(512).optional(),
  /**
   * mutex/rwlock only: an owner holding it may take it again (Java's ReentrantLock /
   * ReentrantReadWriteLock): a re-acquire it already holds the mode for is granted at once and
   * reported as another `hold`; each `release` gives back one acquisition, and the units go
   * when the last one does. Default false: re-locking waits for itself, a deadlock of one.
   */
  reentrant: z.boolean().optional(),
  /**
   * The handle later events of this connection may name the resource by (see Handle): the next
   * unused one (0 first, then 1, …) or the one it already has; a handle names one resource until
   * the connection's state is replaced (a snapshot). A declaration refused for another reason
   * still uses up its next unused handle (which then names nothing), so numbering stays in step.
   * Only to a daemon that lists `handles` in `welcome.features`.
   */
  handle: Handle.optional(),
  /**
   * Lock class, as in Linux lockdep: resources of one class (every `account:<id>` mutex) are one
   * node of the lock-order graph, so two instances of a class nested in either order are reported.
   */
  class: z.string().min(1).max(256).optional(),
  /**
   * The PostgreSQL backend this resource stands for (the `pg` adapter's connection resources,
   * scope `global`): `connection` is held by the task that has the connection checked out,
   * `statement` is waited on by the task while a statement runs on it. The daemon's PostgreSQL
   * source (`--watch-postgres`) joins the database's lock waits to the app's graph through them.
   * `system` is the cluster's system identifier ('' when the app may not read it).
   */
  backend: z
    .object({
      pid: z.number().int().positive(),
      database: z.string().min(1).max(256),
      system: z.string().max(64),
      role: z.enum(['connection', 'statement']),
    })
    .optional(),
});

/** Request shape: rwlocks take a mode, semaphores a number of units, mutexes neither. */
const RequestShape = {
  mode: LockMode.optional(),
  units: Units.optional(),
};

/**
 * An owner started waiting. Exactly one target: `resource` (declared) or
 * `task` (the id of another owner of this client: waiting for it to end).
 */
export const WaitEvent = z.object({
  type: z.literal('wait'),
  waitId: Id,
  owner: Id,
  resource: ResourceRef.optional(),
  task: Id.optional(),
  ...RequestShape,
  /** epoch ms when the wait began in the app (it may be reported later) */
  since: Millis.optional(),
  /** call site of the acquire, when the SDK captured it */
  stack: Stack.optional(),
  /** the OpenTelemetry span active when the wait began */
  trace: TraceContext.optional(),
});

/** A pending wait was granted: it becomes a hold of the same request. */
export const GrantEvent = z.object({
  type: z.literal('grant'),
  waitId: Id,
  since: Millis.optional(),
});

/** A pending wait ended without a grant (timeout, signal, deadlock abort). */
export const CancelEvent = z.object({
  type: z.literal('cancel'),
  waitId: Id,
  reason: z.enum(['timeout', 'signal', 'deadlock', 'error']).optional(),
});

/** An owner holds a resource it got without a reported wait. */
export const HoldEvent = z.object({
  type: z.literal('hold'),
  owner: Id,
  resource: ResourceRef,
  ...RequestShape,
  since: Millis.optional(),
  stack: Stack.optional(),
});

/** An owner released (part of) a hold. */
export const ReleaseEvent = z.object({
  type: z.literal('release'),
  owner: Id,
  resource: ResourceRef,
  ...RequestShape,
});

/**
 * A lock-order fact: `owner` asked for `acquired` while holding `held` (its
 * most recently acquired hold, as in Linux lockdep). Sent once per new
 * (held, acquired) pair per connection, whatever `reportAfterMs` says: an
 * inversion (A then B here, B then A there) is a deadlock waiting for load,
 * and it shows in short holds too. `held` equal to `acquired` on a semaphore is
 * a nested checkout from the same pool.
 */
export const OrderEvent = z.object({
  type: z.literal('order'),
  held: Id,
  acquired: Id,
  owner: Id.optional(),
  stack: Stack.optional(),
  /** rwlocks: the mode `held` is held in and the mode `acquired` is asked for (an upgrade, a recursive read) */
  heldMode: LockMode.optional(),
  mode: LockMode.optional(),
});

export const ClientEvent = z.discriminatedUnion('type', [
  OrderEvent,
  OwnerEvent,
  EndEvent,
  ResourceEvent,
  WaitEvent,
  GrantEvent,
  CancelEvent,
  HoldEvent,
  ReleaseEvent,
]);
export type ClientEvent = z.infer<typeof ClientEvent>;
export type OwnerEvent = z.infer<typeof OwnerEvent>;
export type ResourceEvent = z.infer<typeof ResourceEvent>;
export type WaitEvent = z.infer<typeof WaitEvent>;
export type HoldEvent = z.infer<typeof HoldEvent>;
export type ReleaseEvent = z.infer<typeof ReleaseEvent>;

// ---- client → daemon frames -------------------------------------------------

export const HelloFrame = z.object({
  type: z.literal('hello'),
  protocol: z.number().int(),
  service: z.string().min(1).max(256),
  /** distinguishes processes of one service: a name the user sets, or host:pid by default */
  instance: z.string().min(1).max(256),
  /** the machine (or pod) the client runs on, shown in reports with `pid` */
  host: z.string().min(1).max(256).optional(),
  /** the client's process id */
  pid: z.number().int().positive().optional(),
  token: z.string().max(4096).optional(),
  /** session id from an earlier `welcome`: resume within the grace period */
  resume: z.string().max(256).optional(),
  /**
   * Optional protocol features this client implements. `reorder`: it applies `reorder`
   * frames to its process-local FIFO queues. Unknown names are ignored.
   */
  features: z.array(z.string().max(64)).max(32).optional(),
  /**
   * the `resumeSecret` of the latest `welcome` of that session: without it (or with a wrong one)
   * `resume` is ignored and a new session starts, so nobody else can take a session over
   */
  resumeSecret: z.string().max(256).optional(),
});

export const EventsFrame = z.object({
  type: z.literal('events'),
  /** increasing per connection; echoed in `error.ref` */
  seq: z.number().int().nonnegative(),
  events: z.array(ClientEvent),
});

/**
 * Answer to `abort`: `aborted` if the wait was pending and is now rejected, `stale` if it had
 * already ended, `expired` if the abort came after its `expiresAt` and was not carried out
 * (the daemon has chosen, or will choose, another victim; this wait stays pending).
 */
export const AbortResultFrame = z.object({
  type: z.literal('abort_result'),
  deadlock: Id,
  waitId: Id,
  result: z.enum(['aborted', 'stale', 'expired']),
});

/** Answer to `confirm`, sent after every event buffered before it: which of the asked waits are still pending. */
export const ConfirmResultFrame = z.object({
  type: z.literal('confirm_result'),
  check: Id,
  pending: z.array(Id),
});

/**
 * The client's whole current state after a reconnect. It replaces everything
 * the daemon knew about this client, atomically. A state larger than one frame
 * is sent as consecutive `snapshot` frames, every one but the last with
 * `more: true`; the daemon holds the parts and applies them together when the
 * last arrives, so no detection ever sees half a snapshot. Nothing but
 * `abort_result`/`confirm_result` may come between the parts.
 */
export const SnapshotFrame = z.object({
  type: z.literal('snapshot'),
  seq: z.number().int().nonnegative(),
  events: z.array(ClientEvent),
  more: z.boolean().optional(),
});

export const ClientFrame = z.discriminatedUnion('type', [
  HelloFrame,
  EventsFrame,
  AbortResultFrame,
  ConfirmResultFrame,
  SnapshotFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type EventsFrame = z.infer<typeof EventsFrame>;
export type SnapshotFrame = z.infer<typeof SnapshotFrame>;
export const CLIENT_FRAME_TYPES = ['hello', 'events', 'abort_result', 'confirm_result', 'snapshot'] as const;

// ---- deadlock report (daemon → client, REST) --------------------------------

export const ReportHold = z.object({
  resource: z.string(),
  label: z.string(),
  mode: LockMode.optional(),
  units: z.number().int().optional(),
  since: Millis.optional(),
});
export const ReportWait = ReportHold.extend({
  waitId: z.string(),
  stack: z.string().optional(),
  /** the OpenTelemetry span the wait began in (the victim's gets a `deadlockd.deadlock` event) */
  trace: TraceContext.optional(),
});
export const ReportMember = z.object({
  owner: z.string(),
  name: z.string(),
  service: z.string(),
  client: z.string(),
  /** the member's process: `instance` from its hello, with `host` and `pid` when the SDK sent them */
  instance: z.string().optional(),
  host: z.string().optional(),
  pid: z.number().int().optional(),
  /** the task's user attributes */
  attributes: OwnerAttributes.optional(),
  /** the span active when the task started */
  trace: TraceContext.optional(),
  priority: z.number(),
  /** at most the daemon's --max-report-holds; `holdsTotal` then says how many there are */
  holds: z.array(ReportHold),
  waits: z.array(ReportWait),
  /** present when `holds` was cut short: the member's number of holds */
  holdsTotal: z.number().int().optional(),
  /** present when `waits` was cut short */
  waitsTotal: z.number().int().optional(),
});
/** Edge endpoints name owners as `<client>/<owner>` (client = session id). */
export const ReportEdge = z.object({
  from: z.string(),
  to: z.string(),
  resource: z.string(),
  /** hard: `to` holds a conflicting share; soft: `to` is queued ahead of `from` in FIFO order */
  kind: z.enum(['hard', 'soft']),
});
export const DeadlockReport = z.object({
  id: z.string(),
  namespace: z.string(),
  detectedAt: Millis,
  members: z.array(ReportMember),
  edges: z.array(ReportEdge),
  /** the first victim; `owner` is `<client>/<owner>` */
  victim: z
    .object({ owner: z.string(), waitId: z.string(), reason: z.string() })
    .nullable(),
  /**
   * Owners on the cycle only by being queued in a FIFO queue ahead of a member, holding
   * nothing the deadlock needs: they are not in `members` and never victims while a
   * member can be. `count` of them in all, the first few as `<client>/<owner>`.
   */
  queued: z.object({ count: z.number().int().nonnegative(), owners: z.array(z.string()) }).optional(),
  /**
   * aborting: victim chosen and told; reordering: resolved without an abort by moving waits
   * ahead in a process-local FIFO queue (`reorder` frames); unresolvable: no member's wait can
   * be aborted
   */
  resolution: z.enum(['aborting', 'reordering', 'unresolvable']),
  /** a person-readable rendering of all the above */
  text: z.string(),
  /** present when `members` was cut short (--max-report-members): the number of members of the deadlock */
  membersTotal: z.number().int().optional(),
  /** present when `edges` was cut short: the number of wait-for edges */
  edgesTotal: z.number().int().optional(),
  /**
   * The same for every recurrence of this deadlock (`DS-` and 10 hex digits): a hash of its
   * wait-for edges in class terms (waiter's service and call site, the resource's lock class
   * and mode, holder's service), without ids or times. Absent from an older daemon.
   */
  signature: z.string().optional(),
  /** those edges as lines a person reads, sorted (the first few; the signature covers all) */
  pattern: z.array(z.string()).optional(),
});
export type DeadlockReport = z.infer<typeof DeadlockReport>;
export type ReportMember = z.infer<typeof ReportMember>;
export type ReportEdge = z.infer<typeof ReportEdge>;

// ---- daemon → client frames -------------------------------------------------

export const WelcomeFrame = z.object({
  type: z.literal('welcome'),
  protocol: z.number().int(),
  session: z.string(),
  namespace: z.string(),
  limits: z.object({
    maxFrameBytes: z.number().int(),
    maxEventsPerFrame: z.number().int(),
    /**
     * Most events in one snapshot, all parts together. Present when the daemon takes a
     * snapshot in `snapshot` parts marked `more`; absent (an older daemon): send the first
     * part as `snapshot` and the rest as `events`.
     */
    maxSnapshotEvents: z.number().int().optional(),
    /** a snapshot's last part must arrive within this many ms of its first, or SNAPSHOT_TIMEOUT */
    snapshotTimeoutMs: z.number().int().optional(),
    /** bytes the daemon queues for a client that does not read before it cuts it off (SLOW_CONSUMER) */
    maxQueuedBytes: z.number().int().optional(),
  }),
  /** true when `resume` matched a session still in its grace period */
  resumed: z.boolean(),
  /** send it back as `hello.resumeSecret` with `resume` to resume this session; a new one comes with every welcome */
  resumeSecret: z.string().optional(),
  /**
   * The daemon pings every this many ms (0 or absent: it does not). A client that hears
   * nothing from the daemon for several periods can treat the connection as dead.
   */
  heartbeatMs: z.number().int().nonnegative().optional(),
  /**
   * The daemon's clock (ms) when it sent this welcome. With the time the client sent its
   * hello, it bounds the daemon's clock from above: now ≤ serverTime + (time since hello).
   * The client uses that bound to refuse an abort past its `expiresAt`.
   */
  serverTime: z.number().optional(),
  /**
   * Optional protocol features this daemon implements. `handles`: resources may be declared with
   * a `handle` and named by it in `wait`, `hold` and `release`. Absent (an older daemon): none.
   */
  features: z.array(z.string().max(64)).max(32).optional(),
});

/**
 * Reject exactly this pending wait with DeadlockError, then answer `abort_result`. If the
 * daemon's clock may be past `expiresAt` (bounded with welcome.serverTime), do not: answer
 * `expired`. After `expiresAt` (and a margin) the daemon re-decides the deadlock without
 * this owner, so honouring a late abort could abort two owners for one deadlock.
 */
export const AbortFrame = z.object({
  type: z.literal('abort'),
  deadlock: z.string(),
  owner: z.string(),
  waitId: z.string(),
  report: DeadlockReport,
  expiresAt: z.number().optional(),
});

/**
 * Move these pending waits of your process-local FIFO resource `resource` to the front of its
 * queue, in this order (behind rwlock upgrades, which stay first), then grant from the head as
 * usual. Ids no longer pending are skipped. Sent only to clients whose `hello` listed the
 * `reorder` feature; the daemon applies the same move to its view, so no answer is needed.
 * It resolves a deadlock without an abort (`deadlock` names it), or, sent just before an
 * `abort`, hands what the victim gives back to the members of the cycle that wait for it.
 */
export const ReorderFrame = z.object({
  type: z.literal('reorder'),
  deadlock: z.string(),
  resource: z.string(),
  waits: z.array(z.string()),
});

/** Flush what you have buffered, then say which of these waits are still pending. */
export const ConfirmFrame = z.object({
  type: z.literal('confirm'),
  check: z.string(),
  waits: z.array(z.string()),
});

/** A deadlock involving one of this client's owners (sent to every member's client). */
export const DeadlockFrame = z.object({
  type: z.literal('deadlock'),
  report: DeadlockReport,
});

/** One place a lock-order edge was seen: who took `to` while holding `from`, and where. */
export const HazardSite = z.object({
  from: z.string(),
  to: z.string(),
  service: z.string(),
  instance: z.string(),
  owner: z.string().optional(),
  stack: z.string().optional(),
  count: z.number().int(),
  firstSeen: Millis,
  lastSeen: Millis,
});
/**
 * lock-order-inversion: locks taken in opposite orders in two places. nested-pool-checkout: a
 * second unit of a pool taken while holding one. rwlock-upgrade: shared then exclusive by one
 * owner (two such owners deadlock). recursive-read: shared twice by one owner on a writer-fair
 * rwlock (deadlocks once a writer queues in between). same-class-nesting: two instances of one
 * lock class nested (deadlocks when another owner nests them the other way).
 */
export const HazardKind = z.enum(['lock-order-inversion', 'nested-pool-checkout', 'rwlock-upgrade', 'recursive-read', 'same-class-nesting']);
export const Hazard = z.object({
  id: z.string(),
  kind: HazardKind,
  /** the lock classes of the cycle, in order (a class is `<service>:<name>` for local resources, `<name>` for shared ones) */
  classes: z.array(z.string()),
  /** one entry per edge of the cycle, with where it was seen */
  sites: z.array(HazardSite),
  /** more than one service involved: the inversion crosses processes nobody sees at once */
  crossService: z.boolean(),
  firstSeen: Millis,
  lastSeen: Millis,
  text: z.string(),
});
export type Hazard = z.infer<typeof Hazard>;
export type HazardSite = z.infer<typeof HazardSite>;

export const HazardFrame = z.object({
  type: z.literal('hazard'),
  hazard: Hazard,
});

export const ErrorFrame = z.object({
  type: z.literal('error'),
  code: z.enum(ERROR_CODE_LIST as [string, ...string[]]),
  message: z.string(),
  fatal: z.boolean(),
  /** which frame (seq) and which event of its batch (index) caused it */
  ref: z.object({ seq: z.number().int().optional(), index: z.number().int().optional() }).optional(),
});

export const ServerFrame = z.discriminatedUnion('type', [
  WelcomeFrame,
  AbortFrame,
  ReorderFrame,
  ConfirmFrame,
  DeadlockFrame,
  HazardFrame,
  ErrorFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type AbortFrame = z.infer<typeof AbortFrame>;
export type ReorderFrame = z.infer<typeof ReorderFrame>;
export type ConfirmFrame = z.infer<typeof ConfirmFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
