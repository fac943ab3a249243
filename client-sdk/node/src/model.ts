// The process-local state the SDK reports: owners, holds and waits.
import type { LockMode, OwnerAttributes, ResourceEvent, TraceContext } from '@deadlockd/proto';
import type { SpanLike } from './tracing.js';

/** What an owner is declared with. */
export interface OwnerInit {
  readonly id: string;
  readonly name: string;
  /** higher = keep alive; victims come from the lowest */
  readonly priority: number;
  readonly abortable: boolean;
  /** epoch ms */
  readonly startedAt: number;
  /** the user's attributes (`task(name, { attributes })`), validated and frozen */
  readonly attributes?: Readonly<OwnerAttributes> | undefined;
  /** the OpenTelemetry span active when the task started */
  readonly span?: { span: SpanLike; trace: TraceContext } | undefined;
}

/** Something that holds and waits: a task, or the implicit per-process owner 'main'. */
export class Owner {
  readonly id: string;
  readonly name: string;
  readonly priority: number;
  readonly abortable: boolean;
  readonly startedAt: number;
  readonly attributes: Readonly<OwnerAttributes> | undefined;
  readonly span: { span: SpanLike; trace: TraceContext } | undefined;
  ended = false;
  /** the reporter epoch (connection or resync) in which this owner was last declared to the daemon */
  declaredEpoch = -1;
  /** live holds and waits of this owner that the reporter tracks (the reporter replaces it when it empties) */
  records = new Set<Rec>();
  /** what this owner holds now, oldest first (the newest is the `held` side of an order fact) */
  readonly held: Rec[] = [];

  constructor(init: OwnerInit) {
    this.id = init.id;
    this.name = init.name;
    this.priority = init.priority;
    this.abortable = init.abortable;
    this.startedAt = init.startedAt;
    this.attributes = init.attributes;
    this.span = init.span;
  }
}

/** A resource as the reporter sees it: an id and a declaration to send before first use. */
export interface ReportedResource {
  readonly id: string;
  declaredEpoch: number;
  /** its handle in that epoch, when the daemon takes handles (proto ResourceEvent.handle) */
  handle: number;
  declaration(): ResourceEvent;
  /** a counted resource (semaphore, pool): taking it again while holding it is a nested checkout */
  readonly counted?: boolean;
}

/** A lazily formatted call site: Error.captureStackTrace fills `stack` with a getter; read only when reported. */
export interface CallSite {
  stack?: string;
}

/** What a hold or wait is about; it begins when the Rec is made. */
export interface RecInit {
  readonly kind: 'hold' | 'wait';
  readonly owner: Owner;
  /** what is held or waited for; null for a join */
  readonly resource: ReportedResource | null;
  /** for a join: the owner whose end is awaited */
  readonly task?: Owner | null;
  readonly mode?: LockMode | undefined;
  readonly units?: number | undefined;
  /** a wait's id (a hold granted at once has none) */
  readonly waitId?: string | undefined;
  /** where it was asked for; null when stacks are off or not worth capturing */
  readonly site?: CallSite | null;
}

/**
 * One hold or wait. A wait that is granted turns into a hold in place (same object), so
 * it keeps its position in the reporter's ordered sets.
 */
export class Rec {
  kind: 'hold' | 'wait';
  readonly owner: Owner;
  readonly resource: ReportedResource | null;
  readonly task: Owner | null;
  readonly mode: LockMode | undefined;
  readonly units: number | undefined;
  readonly waitId: string | undefined;
  /** epoch ms when the hold/wait began in the app */
  readonly since: number;
  /** monotonic ms, for the reportAfterMs threshold */
  readonly start: number;
  readonly site: CallSite | null;
  /** the daemon knows this record (on the current connection) */
  reported = false;
  /** the reporter tracks it: false for records of ended owners and after it ended */
  tracked = false;
  /** epoch ms when the hold began (for a granted wait: when it was granted) */
  holdSince = 0;
  /** a contended wait: the OpenTelemetry span active when it began (tracing.ts) */
  span: { span: SpanLike; trace: TraceContext } | undefined = undefined;

  constructor(init: RecInit) {
    this.kind = init.kind;
    this.owner = init.owner;
    this.resource = init.resource;
    this.task = init.task ?? null;
    this.mode = init.mode;
    this.units = init.units;
    this.waitId = init.waitId;
    this.since = Date.now();
    this.start = performance.now();
    this.site = init.site ?? null;
    if (init.kind === 'hold') this.holdSince = this.since;
  }
}
