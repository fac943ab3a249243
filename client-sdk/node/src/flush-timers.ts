// The reporter's two timers: the next flush (soon after something was logged, or a retry while
// the socket is backed up) and the report timer (when the oldest unreported hold or wait becomes
// `reportAfterMs` old). Both call the same flush.
/** socket backlog retry period while a regular flush waits for the socket to drain */
const BACKPRESSURE_RETRY_MS = 20;

export class FlushTimers {
  private pending: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private report: NodeJS.Timeout | null = null;

  constructor(
    private readonly flush: () => void,
    /** 0: flush on the next turn of the event loop */
    private readonly flushIntervalMs: number,
  ) {}

  /** A flush soon, unless one is pending already. */
  schedule(): void {
    if (this.pending !== null) return;
    this.pending = this.flushIntervalMs > 0 ? setTimeout(this.flush, this.flushIntervalMs) : setImmediate(this.flush);
  }

  /** A flush on the next turn of the event loop, whatever flushIntervalMs says (an urgent report). */
  scheduleNow(): void {
    if (this.pending !== null) {
      if (this.flushIntervalMs === 0) return; // the pending one is an immediate already
      this.clearPending();
    }
    this.pending = setImmediate(this.flush);
  }

  /** The socket is backed up: flush again a little later (does not keep the process alive). */
  retryLater(): void {
    this.clearPending();
    const t = setTimeout(this.flush, BACKPRESSURE_RETRY_MS);
    t.unref();
    this.pending = t;
  }

  /** A flush runs now: the pending one is not needed. */
  clearPending(): void {
    if (this.pending === null) return;
    clearTimeout(this.pending as NodeJS.Timeout);
    clearImmediate(this.pending as NodeJS.Immediate);
    this.pending = null;
  }

  /** Flush in `delayMs`, when the oldest unreported record becomes due; no-op if that is armed already. */
  reportIn(delayMs: number): void {
    if (this.report !== null) return;
    this.report = setTimeout(() => {
      this.report = null;
      this.flush();
    }, Math.max(1, Math.ceil(delayMs)));
    this.report.unref();
  }

  cancel(): void {
    this.clearPending();
    if (this.report !== null) clearTimeout(this.report);
    this.report = null;
  }
}
