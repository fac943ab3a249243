// The daemon's stall detector: how late the event loop ran, the longest since the last read.
//
// A timer due every `resolution` ms that runs late by d ms was blocked for about d ms (one frame,
// report or request that ran long). perf_hooks' monitorEventLoopDelay measures the same, but its
// reset() drops the next sample, so a stall that starts right after a scrape would never show:
// this keeps the worst lateness itself and hands it over once per read.
export class LoopStall {
  private last = performance.now();
  private worst = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly resolutionMs = 10) {
    this.timer = setInterval(() => {
      const now = performance.now();
      this.worst = Math.max(this.worst, now - this.last - this.resolutionMs);
      this.last = now;
    }, resolutionMs);
    this.timer.unref();
  }

  /** The longest lateness (ms) since the previous call, then starts a new interval. */
  takeWorstMs(): number {
    // a read runs on the loop, so no stall is under way now; the time since the last tick counts too
    const worst = Math.max(this.worst, performance.now() - this.last - this.resolutionMs, 0);
    this.worst = 0;
    return worst;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
