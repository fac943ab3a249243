// Errors the SDK raises to the application, and the one list of their `code`s.
//
// The codes follow Node's convention for the errors a library raises itself (`ERR_` and a
// name, as in ERR_INVALID_ARG_TYPE), with one exception: DEADLOCK is not the SDK's own
// finding but the daemon's verdict, so it is spelled as the daemon's wire codes are
// (proto/src/errors.ts) and as the daemon's abort frame names it. Argument errors are plain
// TypeError/RangeError without a code. Codes are API: apps and other copies of the SDK
// (isDeadlockError) match on them, so they never change.
import type { DeadlockReport } from '@deadlockd/proto';

/** Every `code` the SDK puts on an error it raises. */
export type SdkErrorCode =
  | 'DEADLOCK' // DeadlockError: the daemon chose this wait as a deadlock victim
  | 'ERR_ACQUIRE_TIMEOUT' // AcquireTimeoutError: an acquire or join outlived its timeoutMs
  | 'ERR_NOT_HELD'; // a second release() of the same hold

export const DEADLOCK = 'DEADLOCK' satisfies SdkErrorCode;

/** The daemon chose this wait as the victim of a deadlock: unwind, release, retry. */
export class DeadlockError extends Error {
  override readonly name = 'DeadlockError';
  readonly code = DEADLOCK;
  readonly deadlockId: string;
  readonly report: DeadlockReport;

  constructor(deadlockId: string, report: DeadlockReport) {
    super(`deadlock detected (${deadlockId})\n${report.text}`);
    this.deadlockId = deadlockId;
    this.report = report;
  }
}

/** An acquire (or join) did not succeed within its `timeoutMs`. */
export class AcquireTimeoutError extends Error {
  override readonly name = 'AcquireTimeoutError';
  readonly code = 'ERR_ACQUIRE_TIMEOUT' satisfies SdkErrorCode;
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.timeoutMs = timeoutMs;
  }
}

/** Error thrown by a second `release()` of the same hold. */
export function notHeldError(what: string): Error & { code: 'ERR_NOT_HELD' } {
  const err = new Error(`${what} is not held (already released)`) as Error & { code: 'ERR_NOT_HELD' };
  err.code = 'ERR_NOT_HELD' satisfies SdkErrorCode;
  return err;
}

/** What an aborted signal rejects with: its reason, or a DOM-style AbortError when it has none. */
export function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}
