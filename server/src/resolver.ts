// The policy for found deadlocks: confirm rounds, aborts, and the deadlines
// that re-decide. It acts through the deadlock book (engine/book.ts), which
// owns the states; this module owns the clients' side: frames and timers.
//
// Confirm rounds. The daemon's view of each client lags that client by a
// network delay, and the delays differ per client. A cycle through two
// clients may be a phantom (one of its waits was already granted, the grant
// is still in flight). So before aborting anyone in a cross-client deadlock
// we ask every member's client which of its waits are still pending (each
// client answers after flushing what it buffered before the question), then
// search again: only a deadlock made entirely of confirmed waits is resolved.
// A deadlock within one client cannot be a phantom of this kind (one
// connection delivers its events in order), so it is resolved at once.
//
// Deadlines that re-decide. A member that never answers must not hold the
// deadlock forever.
//   - Confirm deadline (`confirmTimeoutMs`): a client that is still connected
//     but has not answered is taken at its last word: its waits count as
//     pending (they are, as far as anything it sent says), and its owners
//     become unabortable for this deadlock, so no abort is ever sent to a
//     client that is not answering. The choice is made among the members whose
//     clients answered; if none can be aborted the deadlock is reported as
//     unresolvable. A silent client that is disconnected (in its grace period)
//     is different: it may have died, and its locks with it, so its last word
//     is no evidence. Such a round is dropped; the sweep finds the deadlock
//     again if it outlives the client's grace period.
//   - Abort deadline (`abortTimeoutMs`): every abort carries `expiresAt`. A
//     client carries an abort out only while the daemon's clock cannot yet be
//     past it; it bounds that clock from above with welcome.serverTime plus
//     the time elapsed since it sent its hello (elapsed real time since the
//     hello is at least the time since the daemon stamped the welcome). Past
//     `expiresAt` + `abortAnswerMarginMs`, a victim whose wait still pends
//     becomes unabortable for this deadlock and the choice is made again
//     without it.
// Why this never aborts twice for one deadlock: a victim that carries its
// abort out does so before `expiresAt` by the daemon's clock, and its cancel
// leaves at once; it arrives within the margin (the margin bounds the
// one-way delay), ending the deadlock before the re-decision runs. A victim
// that has not carried it out by then never will: it refuses the expired
// abort (`expired`). The book sends each wait at most one abort per deadlock.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ServerFrame } from '@deadlockd/proto';
import type { BookEntry, DeadlockBook } from './engine/book.js';
import type { Engine, Found } from './engine/engine.js';
import type { ClientId, OwnerRef, WaitRef } from './engine/types.js';

export interface ResolverOptions {
  engine: Engine;
  book: DeadlockBook;
  namespace: string;
  /** delivers a frame to a client; dropped if that client is not connected */
  send: (client: ClientId, frame: ServerFrame) => void;
  /** whether a client has a live connection now (not in its grace period) */
  connected: (client: ClientId) => boolean;
  log: FastifyBaseLogger;
  now: () => number;
  confirmTimeoutMs: number;
  confirmRounds: number;
  abortTimeoutMs: number;
  abortAnswerMarginMs: number;
  newCheckId?: () => string;
  /** runs a deadline's handler once the namespace is not in the middle of a search (namespace.ts); default: now */
  whenIdle?: (fn: () => void) => void;
  /** each deadlock handle() was given a start for, at its first action: milliseconds since that start */
  onResolved?: (ms: number) => void;
  /** a re-decision's search, calling back with what it found (the namespace's runs in slices); default: Engine.search at once */
  search?: (members: readonly OwnerRef[], unabortable: ReadonlySet<string>, done: (found: Found[]) => void) => void;
}

export interface ResolverStats {
  /** deadlocks acted on (abort sent, or reported as unresolvable) */
  resolved: number;
  unresolvable: number;
  abortsSent: number;
  /** deadlocks whose resolution moved waits in a FIFO queue (`reorder` frames sent) */
  reorders: number;
  confirmRoundsStarted: number;
  confirmTimeouts: number;
  /** victims that did not carry out their abort in time (the deadlock was re-decided without them) */
  abortTimeouts: number;
  /** deadlocks still unconfirmed after the last allowed round */
  droppedUnconfirmed: number;
  /** deadlocks that re-detection did not find again (phantoms avoided) */
  vanished: number;
}

interface ConfirmRound {
  check: string;
  entry: BookEntry;
  round: number;
  /** waits asked of each client still to answer */
  awaiting: Map<ClientId, Set<string>>;
  /** `client\0waitId` of every wait a client said is still pending */
  confirmed: Set<string>;
  timer: NodeJS.Timeout;
  /** the engine's version when the round began: the graph the deadlock asked about was found in */
  graphVersion: number;
}

const waitKey = (w: WaitRef): string => `${w.client}\u0000${w.waitId}`;

export class Resolver {
  private readonly rounds = new Map<string, ConfirmRound>();
  /** entry id → check id of the round asking about it (one round per deadlock at a time) */
  private readonly roundOf = new Map<string, string>();
  /** entry id → its abort deadline */
  private readonly abortTimers = new Map<string, NodeJS.Timeout>();
  /** entry id → when the frame that closed it began (performance.now), until the first action (bounded by the open entries) */
  private readonly startedAt = new Map<string, number>();
  private readonly newCheckId: () => string;
  private readonly counters: ResolverStats = {
    resolved: 0,
    unresolvable: 0,
    abortsSent: 0,
    reorders: 0,
    confirmRoundsStarted: 0,
    confirmTimeouts: 0,
    abortTimeouts: 0,
    droppedUnconfirmed: 0,
    vanished: 0,
  };

  private readonly whenIdle: (fn: () => void) => void;
  private readonly search: NonNullable<ResolverOptions['search']>;

  constructor(private readonly o: ResolverOptions) {
    this.newCheckId = o.newCheckId ?? (() => randomUUID());
    this.whenIdle = o.whenIdle ?? ((fn) => fn());
    this.search = o.search ?? ((members, unabortable, done) => done(o.engine.search(members, unabortable)));
  }

  /**
   * Entry point for every deadlock the book has not seen yet (batch, abort answer, sweep).
   * `startedAt` (performance.now) is when the frame whose batch found them began: the time to
   * their first action is reported (onResolved).
   */
  handle(found: readonly Found[], startedAt?: number): void {
    for (const f of found) {
      if (this.o.book.hasKey(f.deadlock.key)) continue;
      const e = this.o.book.open(f, 'confirming');
      if (startedAt !== undefined && this.o.onResolved) this.startedAt.set(e.id, startedAt);
      this.consider(e, 1);
    }
  }

  /** The book ended this entry: its timers go. */
  ended(e: BookEntry): void {
    if (e.endedAt === undefined) return;
    this.startedAt.delete(e.id);
    const t = this.abortTimers.get(e.id);
    if (t) clearTimeout(t);
    this.abortTimers.delete(e.id);
    const check = this.roundOf.get(e.id);
    const r = check === undefined ? undefined : this.rounds.get(check);
    if (!r) return;
    // A member wait ended while its clients were being asked: the cycle was a
    // phantom of a lagging view (or ended on its own), and nobody was aborted.
    this.close(r);
    if (e.state === 'resolved') this.counters.vanished++;
  }

  private consider(e: BookEntry, round: number): void {
    const d = e.deadlock;
    if (d.clients.length <= 1 || d.victims.length === 0) {
      // one client: no cross-connection lag to fear; no victim: nobody is aborted, only reported
      this.act(e);
    } else if (round > this.o.confirmRounds) {
      this.counters.droppedUnconfirmed++;
      this.o.book.end(e, 'dismissed'); // so that it can be found (and confirmed) again later
      this.o.log.warn(
        { namespace: this.o.namespace, deadlockKey: d.key, rounds: this.o.confirmRounds },
        'deadlock not confirmed after the last confirm round; dropped (the sweep will find it again if it is real)',
      );
    } else {
      this.startRound(e, round);
    }
  }

  private startRound(e: BookEntry, round: number): void {
    const check = this.newCheckId();
    const awaiting = new Map<ClientId, Set<string>>();
    for (const client of e.deadlock.clients) awaiting.set(client, new Set());
    for (const w of e.deadlock.waits) {
      let set = awaiting.get(w.client);
      if (!set) awaiting.set(w.client, (set = new Set()));
      set.add(w.waitId);
    }
    const timer = setTimeout(() => this.whenIdle(() => this.confirmExpired(check)), this.o.confirmTimeoutMs);
    timer.unref();
    const r: ConfirmRound = { check, entry: e, round, awaiting, confirmed: new Set(), timer, graphVersion: this.o.engine.version };
    this.rounds.set(check, r);
    this.roundOf.set(e.id, check);
    this.o.book.confirming(e);
    this.counters.confirmRoundsStarted++;
    this.o.log.debug({ namespace: this.o.namespace, check, round, clients: [...awaiting.keys()] }, 'confirm round started');
    for (const [client, waits] of awaiting) this.o.send(client, { type: 'confirm', check, waits: [...waits] });
  }

  /** A client's `confirm_result`. Unknown checks (late answers after a deadline) are ignored. */
  confirmAnswered(client: ClientId, check: string, pending: readonly string[]): void {
    const r = this.rounds.get(check);
    const asked = r?.awaiting.get(client);
    if (!r || !asked) {
      this.o.log.debug({ client, check }, 'confirm_result for no open round; ignored');
      return;
    }
    for (const waitId of pending) if (asked.has(waitId)) r.confirmed.add(waitKey({ client, waitId }));
    r.awaiting.delete(client);
    if (r.awaiting.size === 0) this.finish(r);
  }

  /** The client is gone for good (grace expired): it will not answer, and its waits no longer exist. */
  clientRemoved(client: ClientId): void {
    for (const r of [...this.rounds.values()]) {
      if (r.awaiting.delete(client) && r.awaiting.size === 0) this.finish(r);
    }
  }

  /** The confirm deadline: silent clients are taken at their last word, and their owners are not aborted. */
  private confirmExpired(check: string): void {
    const r = this.rounds.get(check);
    if (!r) return;
    this.counters.confirmTimeouts++;
    const silent = [...r.awaiting.keys()];
    if (silent.some((c) => !this.o.connected(c))) {
      this.close(r);
      this.o.book.end(r.entry, 'dismissed');
      this.o.log.warn(
        { namespace: this.o.namespace, check, deadlock: r.entry.id, silentClients: silent },
        'confirm round timed out with a disconnected member client; dropped (the sweep finds it again if it is real)',
      );
      return;
    }
    const owners = r.entry.deadlock.members.filter((m) => r.awaiting.has(m.client));
    for (const [client, waits] of r.awaiting) for (const waitId of waits) r.confirmed.add(waitKey({ client, waitId }));
    r.awaiting.clear();
    this.o.book.markUnabortable(r.entry, owners);
    this.o.log.warn(
      { namespace: this.o.namespace, check, deadlock: r.entry.id, silentClients: silent },
      'confirm round timed out; silent clients taken at their last word, their owners not aborted',
    );
    this.finish(r);
  }

  private close(r: ConfirmRound): void {
    clearTimeout(r.timer);
    this.rounds.delete(r.check);
    if (this.roundOf.get(r.entry.id) === r.check) this.roundOf.delete(r.entry.id);
  }

  private finish(r: ConfirmRound): void {
    this.close(r);
    const e = r.entry;
    if (this.o.book.get(e.id) !== e) return; // ended meanwhile: what is left was searched again by the book
    // Nothing in the graph changed since the search that found the deadlock (the round begins
    // in the turn of that search), and no owner became unabortable: searching again would find
    // it as it is, with the same victims; the answers only say which of its waits still pend.
    // Skipping that search takes ~1 ms off the 2-3 ms from the closing wait to the abort.
    if (this.o.engine.version === r.graphVersion && e.unabortable.size === 0) return this.afterRound(r, e, [{ deadlock: e.deadlock, waits: e.waits }]);
    this.search(e.deadlock.members, e.unabortable, (again) => this.afterRound(r, e, again));
  }

  /** The search after a confirm round: the deadlock as it is now, acted on if every wait was confirmed. */
  private afterRound(r: ConfirmRound, e: BookEntry, again: Found[]): void {
    if (this.o.book.get(e.id) !== e) return this.handle(again);
    const same = again.find((f) => f.deadlock.key === e.deadlock.key);
    if (same) this.o.book.update(e, same);
    else {
      // Not found again: it was a phantom (or its shape changed: the new one is handled below).
      this.counters.vanished++;
      this.o.book.end(e, 'dismissed');
    }
    const confirmed = (f: Found) => f.deadlock.waits.every((w) => r.confirmed.has(waitKey(w)));
    for (const f of again) {
      if (f !== same && this.o.book.hasKey(f.deadlock.key)) continue; // another open entry holds it
      const target = f === same ? e : this.o.book.open(f, 'confirming');
      if (confirmed(f)) this.act(target);
      else this.consider(target, r.round + 1);
    }
  }

  /** Resolution: abort the victims not yet told, or report it unresolvable. */
  private act(e: BookEntry): void {
    const first = !e.acted;
    const d = e.deadlock;
    // Queue moves go first: on the victim's connection they arrive before its abort, so what
    // the victim gives back goes to the cycle's members (engine/detect.ts, "reordering").
    if (d.reorders.length > 0 && first) {
      this.o.engine.applyReorders(d);
      for (const m of d.reorders) this.o.send(m.client, { type: 'reorder', deadlock: e.id, resource: m.resource, waits: m.waits });
      this.counters.reorders++;
    }
    if (d.victims.length === 0 && d.reorders.length > 0) {
      this.o.book.reordering(e);
    } else if (d.victims.length === 0) {
      this.o.book.unresolvable(e);
      if (first) this.counters.unresolvable++;
    } else {
      const expiresAt = this.o.now() + this.o.abortTimeoutMs;
      for (const v of this.o.book.aborting(e)) {
        this.o.send(v.client, { type: 'abort', deadlock: e.id, owner: v.owner, waitId: v.waitId, report: d.report, expiresAt });
        this.counters.abortsSent++;
      }
      this.armAbortDeadline(e);
    }
    if (!first) {
      this.o.log.warn({ namespace: this.o.namespace, deadlock: e.id, victims: d.victims, state: e.state }, 'deadlock re-decided after a missed deadline');
      return;
    }
    const began = this.startedAt.get(e.id);
    if (began !== undefined) {
      this.startedAt.delete(e.id);
      this.o.onResolved?.(performance.now() - began);
    }
    for (const client of d.clients) this.o.send(client, { type: 'deadlock', report: d.report });
    this.counters.resolved++;
    const { text, ...json } = d.report;
    this.o.log.warn({ namespace: this.o.namespace, deadlock: e.id, text, report: json }, 'deadlock detected');
  }

  private armAbortDeadline(e: BookEntry): void {
    const old = this.abortTimers.get(e.id);
    if (old) clearTimeout(old);
    const t = setTimeout(() => this.whenIdle(() => this.abortExpired(e)), this.o.abortTimeoutMs + this.o.abortAnswerMarginMs);
    t.unref();
    this.abortTimers.set(e.id, t);
  }

  /**
   * The victim's client answered. `aborted`: its cancel came first and ended
   * the deadlock. `stale`: the wait had already ended there. `expired`: it
   * refused a late abort and never will carry it out, so re-decide now.
   */
  abortAnswered(client: ClientId, waitId: string, deadlockId: string, result: 'aborted' | 'stale' | 'expired'): void {
    if (result === 'stale') return this.handle(this.o.book.staleAbort(client, waitId));
    if (result !== 'expired') return;
    const e = this.o.book.get(deadlockId);
    if (e && e.state === 'aborting') this.abortExpired(e, { client, waitId });
  }

  /** The abort deadline (or an `expired` answer): victims that did not carry out their abort are passed over. */
  private abortExpired(e: BookEntry, only?: WaitRef): void {
    this.abortTimers.delete(e.id);
    if (this.o.book.get(e.id) !== e || e.state !== 'aborting') return;
    const late: OwnerRef[] = [];
    for (const v of e.deadlock.victims) {
      if (only && (v.client !== only.client || v.waitId !== only.waitId)) continue;
      if (this.o.engine.wait(v)?.aborting) late.push({ client: v.client, owner: v.owner });
    }
    if (late.length === 0) return;
    this.counters.abortTimeouts += late.length;
    this.o.book.markUnabortable(e, late);
    this.o.log.warn({ namespace: this.o.namespace, deadlock: e.id, late }, 'victim did not carry out its abort in time; choosing again without it');
    this.search(e.deadlock.members, e.unabortable, (again) => {
      if (this.o.book.get(e.id) !== e) return this.handle(again);
      const same = again.find((f) => f.deadlock.key === e.deadlock.key);
      if (same) {
        this.o.book.update(e, same);
        this.act(e);
      } else this.o.book.end(e, 'dismissed');
      this.handle(again.filter((f) => f !== same));
    });
  }

  /** Stops every timer (daemon shutdown). */
  stop(): void {
    for (const r of [...this.rounds.values()]) this.close(r);
    for (const t of this.abortTimers.values()) clearTimeout(t);
    this.abortTimers.clear();
  }

  stats(): ResolverStats & { openRounds: number } {
    return { ...this.counters, openRounds: this.rounds.size };
  }
}
