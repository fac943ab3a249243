// The daemon's log_lock_waits: one log line per wait that is still pending `--log-waits-after-ms`
// after it began, with who waits, for what, blocked by whom and the blocking chain
// (engine/long-waits.ts renders it like a deadlock report). Cheap: each new wait is pushed once
// on a min-heap of deadlines (tinyqueue), and one timer is armed for the earliest; nothing scans
// the waits on a tick. A wait that ended before its deadline is dropped when it comes up (one map
// lookup). Lines are rate-limited per namespace (--max-wait-logs-per-second); the rest are counted
// in one summary line.
import type { FastifyBaseLogger } from 'fastify';
import TinyQueue from 'tinyqueue';
import type { Engine } from './engine/engine.js';
import { describeWait, renderLongWait } from './engine/long-waits.js';
import type { Wait } from './engine/model.js';
import { ErrorBudget } from './error-budget.js';
import { afterPoll } from './after-poll.js';

export interface LongWaitLogOptions {
  namespace: string;
  engine: Engine;
  log: FastifyBaseLogger;
  now: () => number;
  afterMs: number;
  maxChain: number;
  perSecond: number;
}

// The heap holds the waits themselves: every deadline is `since + afterMs`, so ordering by `since`
// orders by deadline, and nothing is allocated per wait.
const bySince = (a: Wait, b: Wait): number => a.since - b.since;

/** setTimeout takes at most 2^31 - 1 ms */
const MAX_TIMER_MS = 2_147_483_647;
/** the longest one fire() holds the thread; what is still due then goes on after a poll (after-poll.ts) */
const FIRE_SLICE_MS = 4;
/** below this many entries the heap is never compacted */
const COMPACT_FLOOR = 1_024;

export class LongWaitLog {
  private due = new TinyQueue<Wait>([], bySince);
  /** waits already logged: a wait event repeated (rejected as a duplicate) must not log twice */
  private readonly written = new WeakSet<Wait>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private readonly budget: ErrorBudget;
  private stopped = false;
  /** fire() is going on in slices */
  private firing = false;
  /** lines written (tests and diagnostics) */
  logged = 0;

  constructor(private readonly o: LongWaitLogOptions) {
    this.budget = new ErrorBudget(o.perSecond);
  }

  /** After a batch (or snapshot) was applied: the waits it added that still pend get a deadline. */
  noteWaits(added: readonly Wait[]): void {
    if (this.stopped || added.length === 0) return;
    let pushed = false;
    for (const w of added) {
      if (!pending(w)) continue;
      this.due.push(w);
      pushed = true;
    }
    if (pushed) {
      this.compactIfStale();
      this.arm();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.firing) return;
    const top = this.due.peek();
    if (top === undefined) return;
    const deadline = top.since + this.o.afterMs;
    if (deadline >= this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = setTimeout(() => this.fire(), Math.min(MAX_TIMER_MS, Math.max(0, deadline - this.o.now())));
    this.timer.unref();
  }

  private fire(): void {
    this.firing = false;
    this.timer = null;
    this.armedFor = Infinity;
    if (this.stopped) return;
    const now = this.o.now();
    const sliceEnd = performance.now() + FIRE_SLICE_MS;
    let n = 0;
    let wrote = false;
    for (let top = this.due.peek(); top !== undefined && top.since + this.o.afterMs <= now; top = this.due.peek()) {
      // a big batch's waits all come due together (30,000 of a ring): popped in slices
      if ((++n % 256 === 0 || wrote) && performance.now() > sliceEnd) {
        this.firing = true; // no timer meanwhile: this goes on and arms the next one at its end
        return afterPoll(() => this.fire());
      }
      this.due.pop();
      wrote = false;
      if (!pending(top) || top.aborting) continue;
      if (this.written.has(top) || !this.budget.take()) continue;
      this.written.add(top);
      this.write(top, now);
      wrote = true;
    }
    const suppressed = this.budget.takeSuppressed();
    if (suppressed > 0) {
      this.o.log.warn({ namespace: this.o.namespace, suppressed }, `${suppressed} more long wait(s) not logged (--max-wait-logs-per-second ${this.o.perSecond}); GET /v1/waits lists them all`);
    }
    this.arm();
  }

  private write(wait: Wait, now: number): void {
    const lw = describeWait(wait, now, this.o.maxChain);
    this.logged++;
    this.o.log.warn(
      {
        namespace: this.o.namespace,
        waitId: lw.waitId,
        client: lw.client,
        service: lw.service,
        instance: lw.instance,
        owner: lw.owner,
        resource: lw.resource,
        ageMs: lw.ageMs,
        blockers: lw.blockers.map((b) => `${b.client}/${b.owner}`),
        chainEnd: lw.chainEnd,
        ...(lw.trace ? { traceId: lw.trace.traceId } : {}),
        text: renderLongWait(lw, this.o.namespace, now),
      },
      'long wait',
    );
  }

  /**
   * Entries of waits that already ended stay until their deadline; with many short waits they
   * could pile up to (waits per second × afterMs). Once the heap holds more than twice the
   * waits still pending, rebuild it with the pending ones only (amortised O(1) per push).
   */
  private compactIfStale(): void {
    const size = this.due.length;
    if (size < COMPACT_FLOOR || size <= 2 * this.o.engine.stats().waits) return;
    this.due = new TinyQueue<Wait>(this.due.data.filter(pending), bySince);
  }
}

/** still pending: a wait leaves its owner's set when it ends (a new wait of the same id is another object) */
const pending = (w: Wait): boolean => w.owner.waits.has(w);
