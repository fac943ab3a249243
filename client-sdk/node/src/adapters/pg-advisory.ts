// PostgreSQL advisory locks as a distributed lock: `advisoryLock(dd, client, key)`.
//
// acquire() runs `pg_advisory_lock(key)` on the given connection (a pg.Client or a pooled client)
// and reports it through dd.resource(name). The name is derived from the database's identity and
// the key — `pg:<system identifier>/<database>/advisory:<key>` — so every service that locks the
// same key in the same database names the same resource, and the daemon sees a cycle that runs
// through several services.
//
// Cancellation. If this wait is a deadlock victim (or its timeoutMs/signal fires), the pending
// lock attempt is cancelled on the server for real: pg_cancel_backend() from a side connection,
// which ends the backend's wait with `query_canceled`. We chose this over polling
// pg_try_advisory_lock: the wait stays a real server-side wait (FIFO among blocked backends, no
// poll latency, no poll load, and visible to pg_locks and PostgreSQL's own detector). The cancel is
// conditional — it fires only while pg_locks shows this backend waiting for this very key — so it
// cannot hit another statement of the session; it is repeated until the lock query has settled
// (the abort can overtake the query on its way to the server). acquire() rejects only once the
// server has stopped waiting, so code that runs after the DeadlockError (releasing its other
// locks on the same connection) never races the cancel. If the lock was granted before the cancel
// landed, it is unlocked at once and acquire() still rejects.
import '../dispose.js';
import type { ClientBase } from 'pg';
import type { Client as DeadlockClient } from '../client.js';
import { abortReason, notHeldError } from '../errors.js';
import type { ExternalHeld } from '../external.js';
import type { WaitOptions } from '../waiter.js';

/** A single bigint key (pg_advisory_lock(bigint)) or two int keys (pg_advisory_lock(int, int)). */
export type AdvisoryKey = bigint | number | readonly [number, number];

/** Something that runs SQL: a pg.Pool, a pg.Client. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

export interface AdvisoryLockOptions {
  /**
   * The database's name in resource names (default: derived from the server — its
   * pg_control_system() system identifier, or host:port when that is not readable — and
   * current_database()). Set it when services reach one database through different routes.
   */
  database?: string;
  /**
   * Where to run pg_cancel_backend() when a wait must be withdrawn (default: a connection opened
   * with the locking client's own parameters at the first cancel, shared per server/database/user
   * and closed after 10 s unused). Must not be the locking client itself, and should not be an
   * instrumented pool (that would be a nested checkout).
   */
  cancelVia?: Queryable;
}

export interface AdvisoryHeld {
  /** the resource name reported to deadlockd */
  readonly resource: string;
  readonly released: boolean;
  /** pg_advisory_unlock, then report the release. A second call rejects with ERR_NOT_HELD. */
  release(): Promise<void>;
  /** release() unless already released: `await using lock = await advisoryLock(dd, client, key).acquire()` */
  [Symbol.asyncDispose](): Promise<void>;
}

/** How long one conditional cancel gets to take effect before it is sent again. */
const CANCEL_RETRY_MS = 25;
/** The shared cancel connection closes after this long unused. */
const SIDE_IDLE_MS = 10_000;
/** PostgreSQL's SQLSTATE for a statement ended by a cancel request. */
const QUERY_CANCELED = '57014';

const identities = new WeakMap<object, Promise<string>>();
/** the same, once resolved: later locks on the connection are named without an await */
const knownIdentities = new WeakMap<object, string>();

export function advisoryLock(
  dd: DeadlockClient,
  client: ClientBase,
  key: AdvisoryKey,
  options: AdvisoryLockOptions = {},
): AdvisoryLock {
  return new AdvisoryLock(dd, client, key, options);
}

export class AdvisoryLock {
  readonly key: AdvisoryKey;
  private readonly sql: { lock: string; unlock: string; params: string[]; keyText: string; lockRow: string[] };
  private name: string | undefined;
  private naming: Promise<string> | undefined;

  constructor(
    private readonly dd: DeadlockClient,
    private readonly client: ClientBase,
    key: AdvisoryKey,
    private readonly options: AdvisoryLockOptions,
  ) {
    this.key = key;
    this.sql = keySql(key);
  }

  /** The resource name this lock is reported under (asks the server once per connection). */
  resourceName(): Promise<string> {
    if (this.knownName() !== undefined) return Promise.resolve(this.name as string);
    this.naming ??= databaseIdentity(this.client, this.options.database).then((db) => {
      this.name = `pg:${db}/advisory:${this.sql.keyText}`;
      return this.name;
    });
    return this.naming;
  }

  /**
   * pg_advisory_lock(key), reported as a wait and then a hold. Rejects with DeadlockError if the
   * daemon picks this wait as a victim — after the server has stopped waiting.
   */
  async acquire(opts?: WaitOptions): Promise<AdvisoryHeld> {
    const signal = opts?.signal;
    if (signal?.aborted) throw abortReason(signal);
    // known already (the usual case): no await, so the reported call site is the caller's own stack
    const name = this.knownName() ?? (await this.resourceName());
    const wait = this.dd.resource(name).beginWait<ClientBase>(AdvisoryLock.prototype.acquire, opts);
    wait.promise.catch(() => {}); // settled through `outcome` below
    const query = this.client.query(this.sql.lock, this.sql.params);
    let cancelling: Promise<void> | undefined;
    const onAbort = () => {
      cancelling = this.cancelUntilSettled(query);
    };
    wait.signal.addEventListener('abort', onAbort, { once: true });
    let outcome: { ok: true } | { ok: false; err: unknown };
    try {
      await query;
      outcome = { ok: true };
    } catch (err) {
      outcome = { ok: false, err };
    }
    wait.signal.removeEventListener('abort', onAbort);
    await cancelling;
    if (outcome.ok) {
      const held = wait.grant(this.client);
      if (held !== null) return new AdvisoryHold(this.client, this.sql, held);
      // granted before the cancel landed: give it back, then fail like the victim we are
      await this.unlockQuietly();
      throw wait.signal.reason;
    }
    if (wait.signal.aborted) throw wait.signal.reason; // cancelled on our behalf: the DeadlockError (or timeout)
    wait.fail(outcome.err);
    throw outcome.err;
  }

  private knownName(): string | undefined {
    if (this.name === undefined) {
      const db = this.options.database ?? knownIdentities.get(this.client);
      if (db !== undefined) this.name = `pg:${db}/advisory:${this.sql.keyText}`;
    }
    return this.name;
  }

  /** Conditional pg_cancel_backend, repeated until the lock query has settled. */
  private async cancelUntilSettled(query: Promise<unknown>): Promise<void> {
    let settled = false;
    const done = query.then(
      () => (settled = true),
      () => (settled = true),
    );
    const pid = (this.client as unknown as { processID?: number | null }).processID;
    if (typeof pid !== 'number') {
      this.dd.logger.warn(`advisory lock ${this.name}: no backend pid known; cannot cancel the pending lock`);
      await done;
      return;
    }
    const run: Queryable = this.options.cancelVia ?? SideConnection.for(this.client);
    while (!settled) {
      try {
        await run.query(CANCEL_SQL, [pid, ...this.sql.lockRow]);
      } catch (err) {
        this.dd.logger.warn(`advisory lock ${this.name}: cancelling the pending lock failed`, err);
      }
      await Promise.race([done, new Promise((r) => setTimeout(r, CANCEL_RETRY_MS))]);
    }
  }

  /** Give back a lock that arrived after the wait ended (a late cancel can hit the unlock: retry). */
  private async unlockQuietly(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.client.query(this.sql.unlock, this.sql.params);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== QUERY_CANCELED) {
          this.dd.logger.warn(`advisory lock ${this.name}: unlock of a late grant failed`, err);
          return;
        }
      }
    }
  }
}

class AdvisoryHold implements AdvisoryHeld {
  private done = false;

  constructor(
    private readonly client: ClientBase,
    private readonly sql: { unlock: string; params: string[] },
    private readonly held: ExternalHeld<ClientBase>,
  ) {}

  get resource(): string {
    return this.held.resource;
  }

  get released(): boolean {
    return this.done;
  }

  async release(): Promise<void> {
    // Not held.release(): while the first release's unlock is still running the report is not
    // released yet, so that would not throw, and a second pg_advisory_unlock would drop another
    // (re-entrant) hold of this session on the same key.
    if (this.done) throw notHeldError(this.held.resource);
    this.done = true;
    try {
      // the real lock first, then the report (a report first would show a free lock still held)
      await this.client.query(this.sql.unlock, this.sql.params);
    } finally {
      this.held.release();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.done) await this.release();
  }
}

// Cancel only while pg_locks shows this backend waiting for this key, so a cancel that arrives
// late cannot interrupt some other statement of the session.
const CANCEL_SQL = `select pg_cancel_backend(l.pid) as cancelled
  from pg_locks l
 where l.pid = $1 and l.locktype = 'advisory' and not l.granted
   and l.classid = $2::oid and l.objid = $3::oid and l.objsubid = $4::int2`;

/**
 * The connection pg_cancel_backend runs on, opened with the locking client's own parameters at the
 * first cancel and shared by every lock of the process on the same server/database/user. It closes
 * itself after SIDE_IDLE_MS without use, so it costs nothing while nobody deadlocks, and a burst of
 * deadlocks does not pay a connection setup per cancel.
 */
class SideConnection implements Queryable {
  private static readonly shared = new Map<string, SideConnection>();
  private conn: Promise<ClientBase & { end(): Promise<void> }> | undefined;
  private idle: NodeJS.Timeout | undefined;

  private constructor(
    private readonly key: string,
    private readonly open: () => Promise<ClientBase & { end(): Promise<void> }>,
  ) {}

  static for(like: ClientBase): SideConnection {
    const p = (like as unknown as { connectionParameters: Record<string, unknown> }).connectionParameters;
    const key = `${String(p.host)}\u0000${String(p.port)}\u0000${String(p.database)}\u0000${String(p.user)}`;
    let side = SideConnection.shared.get(key);
    if (side === undefined) {
      const Ctor = like.constructor as new (config: object) => ClientBase & { connect(): Promise<void>; end(): Promise<void> };
      side = new SideConnection(key, async () => {
        const conn = new Ctor({
          user: p.user, password: p.password, host: p.host, port: p.port, database: p.database, ssl: p.ssl,
          application_name: 'deadlockd-cancel',
        });
        conn.on('error', () => {}); // a broken side connection is dropped and reopened on next use
        await conn.connect();
        // an idle side connection must not keep the process alive
        (conn as unknown as { connection?: { stream?: { unref?(): void } } }).connection?.stream?.unref?.();
        return conn;
      });
      SideConnection.shared.set(key, side);
    }
    return side;
  }

  async query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.conn ??= this.open();
    const conn = this.conn;
    try {
      return await (await conn).query(text, values);
    } catch (err) {
      if (this.conn === conn) this.conn = undefined; // reopen next time
      void conn.then((c) => c.end()).catch(() => {});
      throw err;
    } finally {
      this.idle = setTimeout(() => this.close(), SIDE_IDLE_MS);
      this.idle.unref();
    }
  }

  private close(): void {
    SideConnection.shared.delete(this.key);
    const conn = this.conn;
    this.conn = undefined;
    void conn?.then((c) => c.end()).catch(() => {});
  }
}

/** `<system identifier>/<database>`, asked once per connection (every service derives the same). */
function databaseIdentity(client: ClientBase, override: string | undefined): Promise<string> {
  if (override !== undefined) return Promise.resolve(override);
  let found = identities.get(client);
  if (found === undefined) {
    found = queryIdentity(client);
    identities.set(client, found);
    found.then(
      (id) => knownIdentities.set(client, id),
      () => identities.delete(client),
    );
  }
  return found;
}

async function queryIdentity(client: ClientBase): Promise<string> {
  let row: Record<string, unknown> | undefined;
  try {
    ({ rows: [row] } = await client.query(
      'select current_database() as db, (select system_identifier::text from pg_control_system()) as server',
    ));
  } catch {
    // pg_control_system() may be restricted: the server's address names it just as well
    ({ rows: [row] } = await client.query(
      `select current_database() as db, coalesce(host(inet_server_addr()), 'local') || ':' || current_setting('port') as server`,
    ));
  }
  return `${String(row?.server)}/${String(row?.db)}`;
}

const INT4 = [-(2 ** 31), 2 ** 31 - 1] as const;
const INT8 = [-(2n ** 63n), 2n ** 63n - 1n] as const;

/** SQL and parameters for a key; `lockRow` is how pg_locks shows it (classid, objid, objsubid). */
function keySql(key: AdvisoryKey): { lock: string; unlock: string; params: string[]; keyText: string; lockRow: string[] } {
  if (Array.isArray(key)) {
    const [a, b] = key as readonly [number, number];
    for (const k of [a, b]) {
      if (!Number.isInteger(k) || k < INT4[0] || k > INT4[1]) throw new RangeError(`advisory key part ${k} is not a 32-bit integer`);
    }
    return {
      lock: 'select pg_advisory_lock($1::int4, $2::int4)',
      unlock: 'select pg_advisory_unlock($1::int4, $2::int4)',
      params: [String(a), String(b)],
      keyText: `${a},${b}`,
      lockRow: [String(a >>> 0), String(b >>> 0), '2'],
    };
  }
  let k: bigint;
  if (typeof key === 'bigint') k = key;
  else if (typeof key === 'number' && Number.isSafeInteger(key)) k = BigInt(key);
  else throw new RangeError(`advisory key ${String(key)} is not an integer`);
  if (k < INT8[0] || k > INT8[1]) throw new RangeError(`advisory key ${k} is not a 64-bit integer`);
  const u = BigInt.asUintN(64, k);
  return {
    lock: 'select pg_advisory_lock($1::int8)',
    unlock: 'select pg_advisory_unlock($1::int8)',
    params: [k.toString()],
    keyText: k.toString(),
    lockRow: [(u >> 32n).toString(), (u & 0xffffffffn).toString(), '1'],
  };
}
