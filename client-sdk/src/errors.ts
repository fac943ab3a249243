// Errors the SDK raises to the application.
import type { DeadlockReport } from '@deadlockd/proto';

/** The daemon chose this wait as the victim of a deadlock: unwind, release, retry. */
export class DeadlockError extends Error {
  override readonly name = 'DeadlockError';
  readonly code = 'DEADLOCK';
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
  readonly code = 'ERR_ACQUIRE_TIMEOUT';
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.timeoutMs = timeoutMs;
  }
}

/** Error thrown by a second `release()` of the same hold. */
export function notHeldError(what: string): Error & { code: 'ERR_NOT_HELD' } {
  const err = new Error(`${what} is not held (already released)`) as Error & { code: 'ERR_NOT_HELD' };
  err.code = 'ERR_NOT_HELD';
  return err;
}

/** What an aborted signal rejects with: its reason, or a DOM-style AbortError when it has none. */
export function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}
