// What every primitive of one client shares: the reporter, the owner context, the pending waits.
import type { LockOrderTracker } from './lock-order.js';
import type { Logger } from './logger.js';
import type { CallSite, Rec } from './model.js';
import type { Owners } from './owners.js';
import type { Reporter } from './reporter.js';

/** A pending wait the daemon can abort by id. */
export interface PendingWait {
  readonly rec: Rec;
  /** reject this wait (it is the victim of a deadlock) */
  abort(err: Error): void;
}

export interface Runtime {
  readonly reporter: Reporter;
  readonly owners: Owners;
  readonly logger: Logger;
  /** lock-order facts and what each owner holds */
  readonly order: LockOrderTracker;
  /** pending waits by wait id (for `abort` and `confirm` from the daemon) */
  readonly waits: Map<string, PendingWait>;
  newWaitId(): string;
  /** the call site of a wait that begins now, or null when stacks are off */
  captureSite(above: Function): CallSite | null;
}
