// The engine and its deadlock book wired the way a namespace wires them, minus
// the resolver's I/O: each batch's new deadlocks are opened in the book at
// once. Engine tests speak to this, so they see what the daemon's pure part does.
import assert from 'node:assert/strict';
import type { ClientEvent, Hazard } from '@deadlockd/proto';
import { DeadlockBook } from '../src/engine/book.js';
import { Engine, type EngineResult, type Found } from '../src/engine/engine.js';
import type { ClientInfo, Deadlock, EngineOptions, EventError, GraphStats } from '../src/engine/types.js';

export interface BookedResult {
  errors: EventError[];
  /** deadlocks newly found (now open in the book) */
  deadlocks: Deadlock[];
  /** ids of open deadlocks that ended because one of their waits ended */
  resolved: string[];
  hazards: Hazard[];
}

const always = (): boolean => true;

export class BookedEngine {
  readonly engine: Engine;
  readonly book: DeadlockBook;
  private resolved: string[] = [];

  /**
   * `sliced`: every search pauses at every chance it has (its yields, engine/steps.ts) and is
   * driven to its end by resume(), as a namespace drives a big one over several turns.
   */
  constructor(
    opts: EngineOptions,
    private readonly sliced = false,
  ) {
    this.engine = new Engine(opts);
    this.book = new DeadlockBook(this.engine, opts.now ?? Date.now, {
      changed: (e) => {
        if (e.state === 'resolved') this.resolved.push(e.id);
      },
    });
  }

  get lockOrder() {
    return this.engine.lockOrder;
  }

  get clients() {
    return this.engine.clients;
  }

  addClient(info: ClientInfo): void {
    this.engine.addClient(info);
  }

  applyBatch(client: string, events: ClientEvent[]): BookedResult {
    return this.took(this.sliced ? this.engine.applyBatch(client, events, always) : this.engine.applyBatch(client, events));
  }

  replaceClientState(client: string, events: ClientEvent[]): BookedResult {
    // sliced or not alike: the namespace runs a snapshot's steps to their end before it changes anything else
    return this.took(this.engine.replaceClientState(client, events));
  }

  removeClient(client: string): BookedResult {
    return this.took(this.engine.removeClient(client));
  }

  /** The resolver's first step for a deadlock it acts on: its victims' waits are marked as being aborted. */
  beginResolution(d: Deadlock): void {
    const e = this.book.get(d.id);
    if (!e) throw new Error(`${d.id} is not open in the book`);
    this.book.aborting(e);
  }

  abortAnswered(client: string, waitId: string, result: 'aborted' | 'stale'): BookedResult {
    const found = result === 'stale' ? this.book.staleAbort(client, waitId) : [];
    return { errors: [], deadlocks: this.openAll(found), resolved: this.takeResolved(), hazards: [] };
  }

  sweep(): { found: Deadlock[]; missed: number } {
    const { found, missed } = this.book.sweep();
    return { found: this.openAll(found), missed };
  }

  activeDeadlocks(): Deadlock[] {
    return this.book.current().map((e) => e.deadlock);
  }

  isPending(client: string, waitId: string): boolean {
    return this.engine.isPending(client, waitId);
  }

  stats(): GraphStats {
    return { ...this.engine.stats(), activeDeadlocks: this.book.size };
  }

  private took(r: EngineResult): BookedResult {
    let found: Found[];
    if (this.sliced) {
      // paused at each yield, resumed at once: the same calls a namespace spreads over turns
      const taking = this.book.takeSteps(r);
      let step = taking.next();
      while (!step.done) step = taking.next();
      found = step.value;
    } else found = this.book.take(r);
    const deadlocks = this.openAll(found);
    return { errors: r.errors, deadlocks, resolved: this.takeResolved(), hazards: r.hazards };
  }

  private openAll(found: Found[]): Deadlock[] {
    return found.map((f) => this.book.open(f, 'confirming').deadlock);
  }

  private takeResolved(): string[] {
    const r = this.resolved;
    this.resolved = [];
    return r;
  }
}

/**
 * A booked engine with one client, `c1` (service `svc`), and `send(...events)`, which applies
 * one batch and fails the test on a rejected event.
 */
export function oneClientEngine(opts: { reorder?: boolean } = {}) {
  let t = 1_000;
  const engine = new BookedEngine({ namespace: 'test', now: () => t++ });
  engine.addClient({ id: 'c1', service: 'svc', instance: 'i', ...(opts.reorder === undefined ? {} : { reorder: opts.reorder }) });
  const send = (...events: ClientEvent[]): BookedResult => {
    const r = engine.applyBatch('c1', events);
    assert.deepEqual(r.errors, [], `events rejected: ${JSON.stringify(r.errors)}`);
    return r;
  };
  return { engine, send };
}
