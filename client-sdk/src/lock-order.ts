// Lock-order facts, as in Linux lockdep: every acquire by an owner that already holds something
// says "asked for `acquired` while holding `held`" (its newest hold). The daemon collects these
// from every service and reports a hazard when two places take the same locks in opposite
// orders, or when one owner checks out a second unit of a pool it already holds from — a deadlock
// waiting for load, visible long before the load comes.
//
// Cost: an owner that holds nothing pays one array-length check; one that holds something pays a
// Map and a Set lookup per acquire. A stack is captured only for a pair that is new on this
// connection (once), so steady-state traffic sends nothing.
import type { LockMode } from '@deadlockd/proto';
import type { Logger } from './logger.js';
import type { Owner, Rec, ReportedResource } from './model.js';
import type { Reporter } from './reporter.js';
import type { CallSite } from './model.js';

export class LockOrderTracker {
  /** pools a nested checkout was already logged for (once per pool per process) */
  private readonly warnedNested = new Set<ReportedResource>();

  constructor(
    private readonly reporter: Reporter,
    private readonly logger: Logger,
    private readonly captureSite: (above: Function) => CallSite | null,
  ) {}

  /** `owner` asks for `acquired` (called before the request is granted or queued). */
  asked(owner: Owner, acquired: ReportedResource, caller: Function, mode?: LockMode): void {
    const held = owner.held;
    const n = held.length;
    if (n === 0) return;
    const top = held[n - 1] as Rec;
    const newest = top.resource;
    // the same rwlock again: the modes tell an upgrade from a recursive read (hazards on the daemon)
    const modes = newest === acquired && top.mode !== undefined && mode !== undefined ? { heldMode: top.mode, mode } : undefined;
    if (newest !== null) this.fact(owner, newest, acquired, caller, modes);
    // A nested checkout is a hazard even when something else was taken in between (the pool
    // connection, then a mutex, then the helper's second connection): look further down.
    if (acquired.counted === true && newest !== acquired) {
      for (let i = n - 2; i >= 0; i--) {
        if ((held[i] as Rec).resource === acquired) {
          this.fact(owner, acquired, acquired, caller);
          return;
        }
      }
    }
  }

  /** A hold began (granted at once, or a wait that was granted). */
  took(rec: Rec): void {
    rec.owner.held.push(rec);
  }

  /** A hold ended. Usually the newest one: pop. */
  gave(rec: Rec): void {
    const held = rec.owner.held;
    const last = held.length - 1;
    if (held[last] === rec) {
      held.pop();
      return;
    }
    const i = held.lastIndexOf(rec);
    if (i >= 0) held.splice(i, 1);
  }

  private fact(owner: Owner, held: ReportedResource, acquired: ReportedResource, caller: Function, modes?: { heldMode: LockMode; mode: LockMode }): void {
    const nested = held === acquired && acquired.counted === true;
    const warn = nested && !this.warnedNested.has(acquired);
    const report = this.reporter.isNewOrder(held, acquired, modes ? `${modes.heldMode}>${modes.mode}` : undefined);
    if (!warn && !report) return;
    const site = this.captureSite(caller);
    if (warn) {
      this.warnedNested.add(acquired);
      this.logger.warn(
        `nested checkout: task '${owner.name}' asked for another unit of '${acquired.id}' while holding one. ` +
          `With as many such tasks at once as the pool has units, they deadlock; pass the unit you hold ` +
          `down instead of checking out another.${appFrame(site)}`,
      );
    }
    if (report) this.reporter.order(owner, held, acquired, site, modes);
  }
}

/** The first stack frame outside this SDK, for the one-line warning. */
function appFrame(site: CallSite | null): string {
  const stack = site?.stack;
  if (typeof stack !== 'string') return '';
  for (const line of stack.split('\n').slice(1)) {
    const l = line.trim();
    if (l.startsWith('at ') && !l.includes('client-sdk/') && !l.includes('@deadlockd/client') && !l.includes('node:')) {
      return ` (${l})`;
    }
  }
  return '';
}
