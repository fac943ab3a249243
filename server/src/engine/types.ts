// Public types of the detection engine. The engine is pure: no I/O, no timers;
// the clock and the id generator are injected.
import type { ClientEvent, DeadlockReport, ErrorCode } from '@deadlockd/proto';

export type ClientId = string;

export interface ClientInfo {
  id: ClientId;
  service: string;
  instance: string;
  /** the client's machine and process (hello.host, hello.pid), when its SDK says them */
  host?: string | undefined;
  pid?: number | undefined;
  /** the client applies `reorder` frames to its FIFO queues (hello feature `reorder`) */
  reorder?: boolean;
}

/** Criteria for choosing a victim, applied in order until one owner wins. */
export type VictimCriterion =
  | 'priority' // lowest `priority` first
  | 'work' // fewest holds first (least work lost)
  | 'youngest' // latest `startedAt` first
  | 'closer'; // the owner whose wait closed the cycle first

// youngest before work: with retries that keep their first start time, the oldest task always wins (client-sdk retry.ts)
export const DEFAULT_VICTIM_ORDER: VictimCriterion[] = ['priority', 'youngest', 'work', 'closer'];

export interface EngineLimits {
  maxOwnersPerClient: number;
  maxResourcesPerClient: number;
  maxWaitsPerClient: number;
  maxHoldsPerClient: number;
  maxGlobalResources: number;
  /** totals over every client of the namespace (one engine = one namespace) */
  maxOwnersPerNamespace: number;
  maxResourcesPerNamespace: number;
  maxWaitsPerNamespace: number;
  maxHoldsPerNamespace: number;
  /** what one deadlock report lists; the rest is counted (report.ts) */
  maxReportMembers: number;
  maxReportHolds: number;
  maxReportEdges: number;
}

export const DEFAULT_ENGINE_LIMITS: EngineLimits = {
  maxOwnersPerClient: 100_000,
  maxResourcesPerClient: 100_000,
  maxWaitsPerClient: 100_000,
  maxHoldsPerClient: 1_000_000,
  maxGlobalResources: 1_000_000,
  maxOwnersPerNamespace: 500_000,
  maxResourcesPerNamespace: 1_000_000,
  maxWaitsPerNamespace: 500_000,
  maxHoldsPerNamespace: 2_000_000,
  maxReportMembers: 100,
  maxReportHolds: 20,
  maxReportEdges: 200,
};

/** Bounds of the lock-order hazard tracker (hazards.ts). */
export interface LockOrderLimits {
  /** distinct lock classes tracked; new classes beyond it are ignored (and counted) */
  maxLockClasses: number;
  /** hazards kept; the oldest are dropped first */
  maxHazards: number;
  /** sites kept per edge (distinct service+instance) */
  maxSitesPerEdge: number;
}

export interface EngineOptions {
  namespace: string;
  now?: () => number;
  newDeadlockId?: () => string;
  victimOrder?: VictimCriterion[];
  limits?: Partial<EngineLimits>;
  lockOrderLimits?: Partial<LockOrderLimits>;
}

export interface WaitRef {
  client: ClientId;
  waitId: string;
}

export interface OwnerRef {
  client: ClientId;
  owner: string;
}

export interface Victim extends OwnerRef {
  waitId: string;
  reason: string;
}

/** A deadlock found by the engine: the members (owners on the cycle), their blocked waits, and the victims. */
export interface Deadlock {
  id: string;
  /** canonical key of the member waits; the same deadlock found twice has the same key */
  key: string;
  detectedAt: number;
  members: OwnerRef[];
  /** the blocked waits of the members (what a confirm round asks about) */
  waits: WaitRef[];
  /** the minimal set of waits to abort, in order; empty when no member can be aborted */
  victims: Victim[];
  /** every client that has a member */
  clients: ClientId[];
  /**
   * queue moves to make, before any abort: with no victims they resolve the deadlock by
   * themselves; with victims they hand what the victims give back to the members waiting for it
   */
  reorders: Reorder[];
  report: DeadlockReport;
}

/** Move `waits` (ids, in this order) to the front of the FIFO queue of `client`'s local `resource`. */
export interface Reorder {
  client: ClientId;
  resource: string;
  waits: string[];
}

export interface EventError {
  index: number;
  code: ErrorCode;
  message: string;
}

/** What a client's frame did, as far as the client is told: the events rejected. */
export interface BatchResult {
  errors: EventError[];
}

/** Sizes of one namespace's graph. */
export interface EngineStats {
  owners: number;
  resources: number;
  holds: number;
  waits: number;
}

export interface GraphStats extends EngineStats {
  /** deadlocks found and not yet over (open in the book) */
  activeDeadlocks: number;
}

export type { ClientEvent };
