// The deadlock book: where a found deadlock lives from the search that found
// it to its end. Every state and every transition is here; the engine only
// returns what it found (engine.ts), the resolver applies policy (confirm
// rounds, aborts, deadlines) through the book's transitions (resolver.ts), and
// the history records what the book acted on and ended (history.ts).
//
//   found ──▶ confirming ──▶ aborting ─────▶ resolved
//               │  ▲  │         │  ▲            ▲
//               │  └──┘ next    │  └ deadline:   │ a member wait ended
//               │       round   │    re-decided  │ (granted, cancelled,
//               │               ▼                │  aborted, dropped)
//               ├──────▶ unresolvable ───────────┤
//               ├──────▶ reordering ─────────────┤
//               └──────▶ dismissed  (a phantom, or never confirmed)
//
// An entry is open from `open` until `end`. While it is open its member waits
// carry its id (Wait.deadlocks), which is how the engine can report, without
// a lookup per grant, that a member wait ended (EngineResult.ended). A
// deadlock persists until one of its member waits ends, so that is its end:
// `resolved`. `dismissed` ends an entry nobody acted on (a confirm round
// showed a phantom, or the rounds ran out); its key is remembered (bounded)
// so that the sweep does not count it as a deadlock the incremental path
// missed when it finds it again.
//
// Two promises the transitions keep:
//   - a wait is sent at most one abort per deadlock (`abortsSent`);
//   - an owner that missed a deadline of a deadlock (it did not answer a
//     confirm round, or its client did not carry out an abort in time) is
//     never again chosen as a victim of that deadlock (`unabortable`): the
//     re-decision picks among the others, or reports the deadlock unresolvable.
// Pure: no I/O, no timers; the clock is injected.
import type { Engine, EngineResult, Found } from './engine.js';
import type { Owner, Wait } from './model.js';
import type { ClientId, Deadlock, OwnerRef, Victim } from './types.js';
import { appended } from './empty.js';
import { runToEnd, STEP, type Steps } from './steps.js';

export type DeadlockState = 'confirming' | 'aborting' | 'reordering' | 'unresolvable' | 'resolved' | 'dismissed';
export type OpenState = Exclude<DeadlockState, 'resolved' | 'dismissed'>;

const NEXT: Record<DeadlockState, readonly DeadlockState[]> = {
  confirming: ['confirming', 'aborting', 'reordering', 'unresolvable', 'resolved', 'dismissed'],
  aborting: ['aborting', 'unresolvable', 'resolved', 'dismissed'],
  reordering: ['aborting', 'unresolvable', 'resolved', 'dismissed'],
  unresolvable: ['aborting', 'unresolvable', 'resolved', 'dismissed'],
  resolved: [],
  dismissed: [],
};

export interface BookEntry {
  readonly id: string;
  /** the latest shape found (a re-decision may change victims and report) */
  deadlock: Deadlock;
  state: DeadlockState;
  /** member waits, each carrying this id while the entry is open */
  waits: Wait[];
  /** owner keys (`client/owner`) never to be victims of this deadlock */
  readonly unabortable: Set<string>;
  /** wait keys (`client/waitId`) already sent an abort for this deadlock */
  readonly abortsSent: Set<string>;
  /** true once the deadlock was acted on (aborting, reordering, unresolvable): the history has it */
  acted: boolean;
  endedAt?: number;
}

export interface BookListener {
  /** an entry changed state (history records the acted-on ones; the resolver drops an ended one's timers) */
  changed(entry: BookEntry): void;
}

const ownerKey = (o: OwnerRef): string => `${o.client}/${o.owner}`;
const waitKey = (client: ClientId, waitId: string): string => `${client}/${waitId}`;
const DISMISSED_KEYS_KEPT = 10_000;

export class DeadlockBook {
  private readonly entries = new Map<string, BookEntry>();
  private readonly byKey = new Map<string, BookEntry>();
  private readonly dismissedKeys = new Set<string>();

  constructor(
    private readonly engine: Engine,
    private readonly now: () => number,
    private readonly listener: BookListener = { changed: () => {} },
  ) {}

  // ---- intake: what the engine returned -------------------------------------------

  /**
   * Ends the deadlocks whose member waits ended, searches again from their
   * other members (two cycles can share a component: one wait ending may
   * leave the other), and returns what was found that the book does not hold yet.
   */
  take(r: Pick<EngineResult, 'found' | 'ended' | 'pending'>): Found[] {
    return runToEnd(this.takeSteps(r));
  }

  /**
   * take() in slices (steps.ts): the ends at once, then the engine's search if it paused
   * (`pending`) and the search again from the ended deadlocks' members, which for a big ring
   * whose victim just cancelled is as big as the first. The graph must not change until it ends.
   */
  *takeSteps(r: Pick<EngineResult, 'found' | 'ended' | 'pending'>): Steps<Found[]> {
    const again: Owner[] = [];
    let work = 0;
    for (const w of r.ended) {
      for (const id of w.deadlocks ?? []) {
        const e = this.entries.get(id);
        if (!e) continue;
        for (const x of e.waits) {
          if (x !== w && x.owner.waits.has(x)) again.push(x.owner);
          if (++work % STEP === 0) yield;
        }
        this.end(e, 'resolved');
      }
      w.deadlocks = undefined;
    }
    let found = r.pending ? yield* r.pending : r.found;
    if (again.length) found = found.concat(yield* this.engine.searchSteps(again));
    return found.filter((f) => !this.byKey.has(f.deadlock.key));
  }

  /**
   * The safety net: every deadlock of the whole graph, compared with the book.
   * Fresh ones (some member wait in no open entry) are returned; `missed`
   * counts those that the incremental path never found (0 in a correct build).
   */
  sweep(): { found: Found[]; missed: number } {
    return runToEnd(this.sweepSteps());
  }

  /** sweep() in slices (steps.ts): the graph must not change until it ends */
  *sweepSteps(): Steps<{ found: Found[]; missed: number }> {
    const fresh: Found[] = [];
    let missed = 0;
    for (const f of yield* this.engine.sweepSteps()) {
      // Known = every member wait already belongs to an open entry (its shape may have changed since).
      if (f.waits.every((w) => (w.deadlocks?.length ?? 0) > 0)) continue;
      if (this.byKey.has(f.deadlock.key)) continue;
      fresh.push(f);
      if (!this.dismissedKeys.has(f.deadlock.key)) missed++;
    }
    return { found: fresh, missed };
  }

  // ---- transitions -----------------------------------------------------------------

  /** A new deadlock enters the book (the resolver decides its first state). */
  open(f: Found, state: OpenState): BookEntry {
    const e: BookEntry = {
      id: f.deadlock.id,
      deadlock: f.deadlock,
      state: 'confirming',
      waits: [],
      unabortable: new Set(),
      abortsSent: new Set(),
      acted: false,
    };
    this.entries.set(e.id, e);
    this.byKey.set(f.deadlock.key, e);
    this.mark(e, f.waits);
    this.move(e, state);
    return e;
  }

  /**
   * The same deadlock (same member waits) found again: a confirm round's
   * recheck or a re-decision. It keeps its id; victims and report are the new ones.
   */
  update(e: BookEntry, f: Found): void {
    if (f.deadlock.key !== e.deadlock.key) throw new Error(`book: ${e.id} updated with another deadlock`);
    const d = f.deadlock;
    const report = { ...d.report, id: e.id, text: d.report.text.replace(d.report.id, e.id) };
    e.deadlock = { ...d, id: e.id, detectedAt: e.deadlock.detectedAt, report };
    this.unmark(e);
    this.mark(e, f.waits);
  }

  /** Another confirm round. */
  confirming(e: BookEntry): void {
    this.move(e, 'confirming');
  }

  /**
   * Resolution begins: the victims' waits are marked as being aborted (the
   * search treats them as gone while the abort travels). Returns the victims
   * to send an abort to now: never a wait already sent one for this deadlock.
   */
  aborting(e: BookEntry): Victim[] {
    const toSend = e.deadlock.victims.filter((v) => !e.abortsSent.has(waitKey(v.client, v.waitId)));
    for (const v of toSend) {
      e.abortsSent.add(waitKey(v.client, v.waitId));
      const w = this.engine.wait(v);
      if (w) w.aborting = true;
    }
    this.move(e, 'aborting');
    return toSend;
  }

  /** No member can be aborted: reported only, until one of its waits ends. */
  unresolvable(e: BookEntry): void {
    this.move(e, 'unresolvable');
  }

  /** Queue reordering was asked of the owning client (nobody aborted). */
  reordering(e: BookEntry): void {
    this.move(e, 'reordering');
  }

  /**
   * These owners missed a deadline of this deadlock; the waits of theirs that
   * were being aborted count as pending again (their client never carried the
   * abort out, and will refuse it now: it expired).
   */
  markUnabortable(e: BookEntry, owners: readonly OwnerRef[]): void {
    for (const o of owners) {
      e.unabortable.add(ownerKey(o));
      for (const v of e.deadlock.victims) {
        if (v.client !== o.client || v.owner !== o.owner) continue;
        const w = this.engine.wait(v);
        if (w) w.aborting = false;
      }
    }
  }

  /**
   * The victim's client answered `stale`: the wait had already ended there,
   * our view was behind. The deadlock as recorded is over; if our view still
   * holds one, the returned search finds it anew.
   */
  staleAbort(client: ClientId, waitId: string): Found[] {
    const w = this.engine.wait({ client, waitId });
    if (!w) return [];
    w.aborting = false;
    for (const id of w.deadlocks ?? []) {
      const e = this.entries.get(id);
      if (e) this.end(e, 'resolved', true);
    }
    return this.engine.search([w.owner]).filter((f) => !this.byKey.has(f.deadlock.key));
  }

  /** Ends an entry. `remember` keeps its key, so the sweep does not count it as missed when found again. */
  end(e: BookEntry, how: 'resolved' | 'dismissed', remember = how === 'dismissed'): void {
    if (!this.entries.has(e.id)) return;
    this.entries.delete(e.id);
    if (this.byKey.get(e.deadlock.key) === e) this.byKey.delete(e.deadlock.key);
    this.unmark(e);
    if (remember) {
      if (this.dismissedKeys.size >= DISMISSED_KEYS_KEPT) this.dismissedKeys.clear();
      this.dismissedKeys.add(e.deadlock.key);
    }
    e.endedAt = this.now();
    this.move(e, how);
  }

  // ---- reads -----------------------------------------------------------------------

  get(id: string): BookEntry | undefined {
    return this.entries.get(id);
  }

  /** Open entries, oldest first. */
  current(): BookEntry[] {
    return [...this.entries.values()];
  }

  /** an open entry holds a deadlock of these member waits */
  hasKey(key: string): boolean {
    return this.byKey.has(key);
  }

  get size(): number {
    return this.entries.size;
  }

  // ---- internals -------------------------------------------------------------------

  private move(e: BookEntry, to: DeadlockState): void {
    if (e.state !== to && !NEXT[e.state].includes(to)) throw new Error(`book: ${e.id} cannot go from ${e.state} to ${to}`);
    e.state = to;
    if (to === 'aborting' || to === 'unresolvable' || to === 'reordering') e.acted = true;
    this.listener.changed(e);
  }

  private mark(e: BookEntry, waits: Wait[]): void {
    e.waits = waits;
    for (const w of waits) w.deadlocks = appended(w.deadlocks, e.id);
  }

  private unmark(e: BookEntry): void {
    for (const w of e.waits) {
      if (!w.deadlocks) continue;
      if (w.deadlocks.length === 1 && w.deadlocks[0] === e.id) {
        w.deadlocks = undefined; // in one deadlock only, nearly always: no new array
        continue;
      }
      const left = w.deadlocks.filter((id) => id !== e.id);
      w.deadlocks = left.length ? left : undefined;
    }
  }
}
