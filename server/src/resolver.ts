// Turns the engine's deadlocks into actions: confirm rounds, aborts, reports.
//
// Why confirm rounds: the daemon's view of each client lags that client by a
// network delay, and the delays differ per client. A cycle through two
// clients may be a phantom (one of its waits was already granted, the grant
// is still in flight). So before aborting anyone in a cross-client deadlock
// we ask every member's client which of its waits are still pending (each
// client answers after flushing what it buffered before the question), then
// re-run detection: only a deadlock made entirely of confirmed waits is
// resolved. A deadlock within one client cannot be a phantom of this kind
// (one connection delivers its events in order), so it is resolved at once.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ServerFrame } from '@deadlockd/proto';
import type { Engine } from './engine/index.js';
import type { ClientId, Deadlock, WaitRef } from './engine/types.js';
import type { DeadlockHistory } from './history.js';

export interface ResolverOptions {
  engine: Engine;
  namespace: string;
  history: DeadlockHistory;
  /** delivers a frame to a client; dropped if that client is not connected */
  send: (client: ClientId, frame: ServerFrame) => void;
  log: FastifyBaseLogger;
  confirmTimeoutMs: number;
  confirmRounds: number;
  newCheckId?: () => string;
}

export interface ResolverStats {
  /** deadlocks resolved (abort sent, or reported as unresolvable) */
  resolved: number;
  unresolvable: number;
  abortsSent: number;
  confirmRoundsStarted: number;
  confirmTimeouts: number;
  /** deadlocks still unconfirmed after the last allowed round */
  droppedUnconfirmed: number;
  /** deadlocks that re-detection did not find again (phantoms avoided) */
  vanished: number;
}

interface ConfirmRound {
  check: string;
  deadlock: Deadlock;
  round: number;
  /** waits asked of each client still to answer */
  awaiting: Map<ClientId, Set<string>>;
  /** `client\0waitId` of every wait a client said is still pending */
  confirmed: Set<string>;
  timer: NodeJS.Timeout;
}

const waitKey = (w: WaitRef): string => `${w.client}\u0000${w.waitId}`;

export class Resolver {
  private readonly rounds = new Map<string, ConfirmRound>();
  /** deadlock key → check id of the round asking about it (one round per deadlock at a time) */
  private readonly roundByKey = new Map<string, string>();
  private readonly newCheckId: () => string;
  private readonly counters: ResolverStats = {
    resolved: 0,
    unresolvable: 0,
    abortsSent: 0,
    confirmRoundsStarted: 0,
    confirmTimeouts: 0,
    droppedUnconfirmed: 0,
    vanished: 0,
  };

  constructor(private readonly o: ResolverOptions) {
    this.newCheckId = o.newCheckId ?? (() => randomUUID());
  }

  /** Entry point for every deadlock the engine reports (batch, abort answer, sweep). */
  handle(deadlocks: readonly Deadlock[]): void {
    for (const d of deadlocks) this.consider(d, 1);
  }

  private consider(d: Deadlock, round: number): void {
    if (this.roundByKey.has(d.key)) return; // already being confirmed
    if (d.clients.length <= 1 || d.victims.length === 0) {
      // one client: no cross-connection lag to fear; no victim: nobody is aborted, only reported
      this.resolve(d);
    } else if (round > this.o.confirmRounds) {
      this.counters.droppedUnconfirmed++;
      this.o.engine.dismiss(d.id); // so that it can be found (and confirmed) again later
      this.o.log.warn(
        { namespace: this.o.namespace, deadlockKey: d.key, rounds: this.o.confirmRounds },
        'deadlock not confirmed after the last confirm round; dropped (the sweep will find it again if it is real)',
      );
    } else {
      this.startRound(d, round);
    }
  }

  private startRound(d: Deadlock, round: number): void {
    const check = this.newCheckId();
    const awaiting = new Map<ClientId, Set<string>>();
    for (const client of d.clients) awaiting.set(client, new Set());
    for (const w of d.waits) {
      let set = awaiting.get(w.client);
      if (!set) awaiting.set(w.client, (set = new Set()));
      set.add(w.waitId);
    }
    const timer = setTimeout(() => this.timeout(check), this.o.confirmTimeoutMs);
    timer.unref();
    const r: ConfirmRound = { check, deadlock: d, round, awaiting, confirmed: new Set(), timer };
    this.rounds.set(check, r);
    this.roundByKey.set(d.key, check);
    this.counters.confirmRoundsStarted++;
    this.o.log.debug({ namespace: this.o.namespace, check, round, clients: [...awaiting.keys()] }, 'confirm round started');
    for (const [client, waits] of awaiting) {
      this.o.send(client, { type: 'confirm', check, waits: [...waits] });
    }
  }

  /** A client's `confirm_result`. Unknown checks (late answers after a timeout) are ignored. */
  confirmAnswered(client: ClientId, check: string, pending: readonly string[]): void {
    const r = this.rounds.get(check);
    const asked = r?.awaiting.get(client);
    if (!r || !asked) {
      this.o.log.debug({ client, check }, 'confirm_result for no open round; ignored');
      return;
    }
    for (const waitId of pending) {
      if (asked.has(waitId)) r.confirmed.add(waitKey({ client, waitId }));
    }
    r.awaiting.delete(client);
    if (r.awaiting.size === 0) this.finish(r);
  }

  /** The client is gone for good (grace expired): it will not answer, and its waits no longer exist. */
  clientRemoved(client: ClientId): void {
    for (const r of [...this.rounds.values()]) {
      if (r.awaiting.delete(client) && r.awaiting.size === 0) this.finish(r);
    }
  }

  private close(r: ConfirmRound): void {
    clearTimeout(r.timer);
    this.rounds.delete(r.check);
    if (this.roundByKey.get(r.deadlock.key) === r.check) this.roundByKey.delete(r.deadlock.key);
  }

  private finish(r: ConfirmRound): void {
    this.close(r);
    const again = this.o.engine.recheck(r.deadlock.members);
    // Not found again: it was a phantom (or ended). The engine keeps found
    // deadlocks as active until one of their waits ends; forget it now.
    if (!again.some((d) => d.id === r.deadlock.id)) {
      this.counters.vanished++;
      this.o.engine.dismiss(r.deadlock.id);
    }
    for (const d of again) {
      if (d.waits.every((w) => r.confirmed.has(waitKey(w)))) this.resolve(d);
      else this.consider(d, r.round + 1);
    }
  }

  private timeout(check: string): void {
    const r = this.rounds.get(check);
    if (!r) return;
    this.close(r);
    this.counters.confirmTimeouts++;
    this.o.engine.dismiss(r.deadlock.id);
    this.o.log.warn(
      { namespace: this.o.namespace, check, deadlockKey: r.deadlock.key, silentClients: [...r.awaiting.keys()] },
      'confirm round timed out; dropped',
    );
  }

  private resolve(d: Deadlock): void {
    this.o.engine.beginResolution(d);
    for (const v of d.victims) {
      this.o.send(v.client, { type: 'abort', deadlock: d.id, owner: v.owner, waitId: v.waitId, report: d.report });
      this.counters.abortsSent++;
    }
    for (const client of d.clients) this.o.send(client, { type: 'deadlock', report: d.report });
    this.counters.resolved++;
    if (d.victims.length === 0) this.counters.unresolvable++;
    const { text, ...json } = d.report;
    this.o.log.warn({ namespace: this.o.namespace, deadlock: d.id, text, report: json }, 'deadlock detected');
    this.o.history.add(d);
  }

  /** Stops every confirm timer (daemon shutdown). */
  stop(): void {
    for (const r of [...this.rounds.values()]) this.close(r);
  }

  stats(): ResolverStats & { openRounds: number } {
    return { ...this.counters, openRounds: this.rounds.size };
  }
}
