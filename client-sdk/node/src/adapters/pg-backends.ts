// The PostgreSQL backend behind each checked-out connection, reported so that the daemon's
// PostgreSQL source (`deadlockd --watch-postgres`) can join the database's lock waits to the
// app's graph. Per physical connection the adapter keeps two shared resources that name its
// backend (pid, database, cluster system identifier, fetched once per physical connection):
//   connection  held by the task while it has the connection checked out: a backend that sits
//               idle in a transaction, holding row locks, waits for that task;
//   statement   waited on by the task while a statement runs: the task waits for its backend,
//               and the backend, when it waits for a lock, holds this resource in the daemon.
// Neither takes part in lock-order facts (they are bookkeeping, not locks the app takes).
//
// A statement wait can be a deadlock's victim. The daemon first says so with an `abort` for it;
// the adapter then marks the connection and lets the statement run on. The daemon re-checks with
// PostgreSQL that the backend still waits for the same blocker and cancels it
// (pg_cancel_backend): the statement fails with SQLSTATE 57014, which the adapter turns into
// the DeadlockError of that abort. If the daemon found the wait over meanwhile, it cancels
// nothing and the statement completes as usual.
import type { PoolClient } from 'pg';
import type { ResourceEvent } from '@deadlockd/proto';
import { ExternalResource } from '../external.js';
import { Rec, type Owner } from '../model.js';
import type { ExternalPool } from '../pool.js';
import type { PendingWait, Runtime } from '../runtime.js';

interface BackendIdentity {
  pid: number;
  database: string;
  /** the cluster's system identifier; '' when this role may not read pg_control_system() */
  system: string;
}

type Role = 'connection' | 'statement';
/** SQLSTATE of a statement cancelled by pg_cancel_backend (query_canceled) */
const QUERY_CANCELED = '57014';

class BackendResource extends ExternalResource {
  identity: BackendIdentity | null = null;

  constructor(
    rt: Runtime,
    id: string,
    private readonly role: Role,
  ) {
    super(rt, id);
  }

  declaration(): ResourceEvent {
    const who = this.identity ? `PostgreSQL backend ${this.identity.pid} (${this.identity.database})` : 'PostgreSQL backend';
    const ev: ResourceEvent = {
      type: 'resource',
      resource: this.id,
      kind: 'mutex',
      scope: 'global',
      fifo: false,
      label: this.role === 'connection' ? `connection to ${who}` : `statement on ${who}`,
    };
    if (this.identity) ev.backend = { ...this.identity, role: this.role };
    return ev;
  }
}

/** One physical connection's resources and state. */
class Slot {
  identity: Promise<BackendIdentity | null> | null = null;
  /** the checkout's hold of `connection` (null while not checked out) */
  checkout: Rec | null = null;
  /** the abort of the statement now running, when the daemon chose it as a victim */
  victim: Error | null = null;
  constructor(
    readonly connection: BackendResource,
    readonly statement: BackendResource,
  ) {}
}

export type QueryFn = (...args: unknown[]) => unknown;

/** The backends of one instrumented pool. */
export class PoolBackends {
  private readonly rt: Runtime;
  private readonly slots = new WeakMap<PoolClient, Slot>();
  /** slots of connections that ended, reused (so a pool's resources stay bounded by its size) */
  private readonly free: Slot[] = [];
  private made = 0;

  constructor(
    pool: ExternalPool,
    private readonly prefix: string,
  ) {
    // the pool resource's runtime: the backend resources report through the same client
    this.rt = (pool as unknown as { rt: Runtime }).rt;
  }

  /** A checkout began for `owner`: learn the backend (once per connection), then report the connection held. */
  async checkedOut(client: PoolClient, owner: Owner): Promise<void> {
    const slot = this.slotOf(client);
    const identity = await slot.identity;
    if (identity === null || slot.checkout !== null) return;
    const rec = new Rec({ kind: 'hold', owner, resource: slot.connection, mode: undefined, units: undefined });
    slot.checkout = rec;
    this.rt.reporter.begin(rec);
  }

  /** The checkout ended (the client went back to the pool). */
  released(client: PoolClient): void {
    const slot = this.slots.get(client);
    if (!slot || slot.checkout === null) return;
    const rec = slot.checkout;
    slot.checkout = null;
    this.rt.reporter.ended(rec);
  }

  /** Wraps the client's query() once: each statement is a reported wait on its backend. */
  wrapQuery(client: PoolClient): void {
    const c = client as PoolClient & { [WRAPPED]?: true };
    if (c[WRAPPED]) return;
    const real = client.query.bind(client) as QueryFn;
    const run = this.run.bind(this);
    // `function` so the reported call site starts at the application's query() call
    const query = function query(...args: unknown[]): unknown {
      return run(client, real, args, query);
    };
    Object.defineProperty(client, 'query', { value: query, configurable: true, writable: true });
    Object.defineProperty(client, WRAPPED, { value: true });
  }

  private run(client: PoolClient, real: QueryFn, args: unknown[], caller: Function): unknown {
    const slot = this.slots.get(client);
    const first = args[0] as { submit?: unknown } | undefined;
    // not checked out through us, backend unknown, or a Submittable (cursor, stream): not reported
    if (!slot || slot.checkout === null || (first !== null && typeof first === 'object' && typeof first.submit === 'function')) return real(...args);
    const rt = this.rt;
    const owner = rt.owners.current();
    const waitId = rt.newWaitId();
    const rec = new Rec({ kind: 'wait', owner, resource: slot.statement, mode: undefined, units: undefined, waitId, site: rt.captureSite(caller) });
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      rt.waits.delete(waitId);
      rt.reporter.ended(rec);
    };
    const pending: PendingWait = {
      rec,
      // the daemon chose this statement's wait: it cancels the backend next (or finds it over)
      abort: (err) => {
        if (ended) return;
        slot.victim = err;
        ended = true;
        rt.waits.delete(waitId);
        rt.reporter.ended(rec, 'deadlock');
      },
    };
    rt.waits.set(waitId, pending);
    rt.reporter.begin(rec);
    slot.victim = null;
    /** The statement's own error, or the DeadlockError if it was the victim and got cancelled. */
    const outcome = (err: unknown): unknown => {
      end();
      const victim = slot.victim;
      slot.victim = null;
      if (victim !== null && (err as { code?: unknown } | null)?.code === QUERY_CANCELED) return victim;
      return err;
    };
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      const cb = last as (err: unknown, res: unknown) => void;
      const wrapped = (err: unknown, res: unknown): void => {
        if (err) cb(outcome(err), res);
        else {
          outcome(undefined);
          cb(err, res);
        }
      };
      return real(...args.slice(0, -1), wrapped);
    }
    let result: unknown;
    try {
      result = real(...args);
    } catch (err) {
      throw outcome(err);
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(
        (res) => {
          outcome(undefined);
          return res;
        },
        (err: unknown) => {
          throw outcome(err);
        },
      );
    }
    end();
    return result;
  }

  private slotOf(client: PoolClient): Slot {
    let slot = this.slots.get(client);
    if (slot) return slot;
    slot = this.free.pop();
    if (slot) {
      slot.identity = null;
      slot.checkout = null;
      slot.victim = null;
    } else {
      const n = ++this.made;
      slot = new Slot(
        new BackendResource(this.rt, `${this.prefix}#${n}:connection`, 'connection'),
        new BackendResource(this.rt, `${this.prefix}#${n}:statement`, 'statement'),
      );
    }
    const s = slot;
    // a new physical connection in a reused slot: its resources name the new backend
    s.identity = null;
    this.slots.set(client, s);
    client.once('end', () => {
      this.slots.delete(client);
      this.free.push(s);
    });
    const learn = fetchIdentity(client).then((id) => {
      s.connection.identity = id;
      s.statement.identity = id;
      if (id !== null) {
        this.rt.reporter.resourceChanged(s.connection);
        this.rt.reporter.resourceChanged(s.statement);
      }
      return id;
    });
    s.identity = learn;
    return s;
  }
}

const WRAPPED = Symbol.for('deadlockd.pg.query-wrapped');

/** pid and database from the connection; the system identifier in one query (before any wrapping). */
async function fetchIdentity(client: PoolClient): Promise<BackendIdentity | null> {
  const c = client as PoolClient & { processID?: number; database?: string; connectionParameters?: { database?: string } };
  const pid = c.processID;
  const database = c.database ?? c.connectionParameters?.database;
  if (typeof pid !== 'number' || pid <= 0 || typeof database !== 'string' || database.length === 0) return null;
  let system = '';
  try {
    const r = await (c.query as unknown as QueryFn).call(c, 'select system_identifier::text as system from pg_control_system()') as { rows: Array<{ system: string }> };
    system = r.rows[0]?.system ?? '';
  } catch {
    // pg_control_system() may be refused to this role: match on pid and database alone
  }
  return { pid, database, system };
}
