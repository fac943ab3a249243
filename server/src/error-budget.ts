// How many `error` frames one connection is sent: a token bucket of
// `perSecond` tokens, refilled continuously. A client that sends a batch of
// 10,000 bad events (or many such batches, without reading) gets the first
// errors and one count of the rest, not 10,000 frames queued in the daemon.
export class ErrorBudget {
  private tokens: number;
  private last: number;
  /** errors not sent since the last summary */
  suppressed = 0;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.last = now();
  }

  /** true: send this error; false: it is counted in `suppressed` instead */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((t - this.last) * this.perSecond) / 1000);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.suppressed++;
    return false;
  }

  /** the count to report, reset */
  takeSuppressed(): number {
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }
}
