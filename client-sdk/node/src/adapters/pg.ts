// node-postgres pool adapter: `instrumentPool(dd, pool, { name })`.
//
// Each checkout (`pool.connect()`, and the checkout inside `pool.query()`) is one unit of a
// counted resource whose capacity is the pool's `max`, owned by the current task; the client's
// `release()` returns it. pg still does all the work (its own queue, timeouts, errors): the
// adapter only reports. pg's pending queue is FIFO (a released client goes to the oldest waiter,
// a new request queues behind the others even when a client is idle), so the resource is
// declared FIFO and each wait is reported in the same tick as pg queues the request.
//
// A task that checks out a second connection while holding one is the "nested checkout" bug:
// the SDK logs it once and the daemon reports a hazard the first time, at concurrency 1. When N
// such tasks meet on a pool of N, the daemon picks one victim: its pending connect() rejects with
// DeadlockError at once. pg offers no way to withdraw a queued request, so when pg later hands
// that request a client, the adapter releases it straight back (the next waiter gets it).
//
// Each checkout also reports the connection's PostgreSQL backend, and each statement a wait on it
// (pg-backends.ts), so that the daemon's PostgreSQL source can see a cycle through an app lock
// and a row lock. A statement chosen as a deadlock's victim is cancelled by the daemon; it fails
// with DeadlockError.
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { Client as DeadlockClient } from '../client.js';
import type { ExternalHeld, ExternalWait } from '../external.js';
import type { ExternalPool } from '../pool.js';
import { PoolBackends } from './pg-backends.js';

export interface InstrumentPoolOptions {
  /** the pool's name in reports and hazards (default "pg-pool"); one name per pool in a process */
  name?: string;
}

type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, done: (release?: unknown) => void) => void;

/** What instrumentPool() adds to the pool. */
export interface InstrumentedPool {
  /** the counted resource the checkouts are reported on */
  readonly deadlockd: ExternalPool;
}

const INSTRUMENTED = Symbol.for('deadlockd.pg.instrumented');

/**
 * Instrument a pg.Pool in place (and return it): `connect()` and `query()` report to deadlockd.
 * Instrumenting the same pool twice returns it unchanged.
 */
export function instrumentPool<P extends Pool>(dd: DeadlockClient, pool: P, options: InstrumentPoolOptions = {}): P & InstrumentedPool {
  const marked = pool as P & InstrumentedPool & { [INSTRUMENTED]?: true };
  if (marked[INSTRUMENTED]) return marked;
  const name = options.name ?? 'pg-pool';
  const max = pool.options?.max ?? 10; // pg-pool sets options.max (default 10) in its constructor
  const resource = dd.pool(name, max, { label: `pg pool ${name}`, fifo: true });
  const realConnect = pool.connect.bind(pool) as unknown as (cb: ConnectCallback) => void;
  // shared resource names: unique to this pool in this process
  const backends = new PoolBackends(resource, `pg:${name}:${randomUUID()}`);

  /** One checkout through pg, reported; `cb` gets a client whose release() also reports. */
  function checkout(cb: ConnectCallback): void {
    const owner = currentOwner(resource);
    let wait: ExternalWait<PoolClient>;
    try {
      wait = resource.beginWait<PoolClient>(instrumented, undefined);
    } catch (err) {
      cb(err as Error, undefined, noop);
      return;
    }
    let answered = false;
    // the victim (or any wait that ended early) is answered at once; pg keeps the request queued
    wait.promise.catch((err: unknown) => {
      if (answered) return;
      answered = true;
      cb(err as Error, undefined, noop);
    });
    // callback form, synchronously in this tick: pg queues the request in the order we reported it
    realConnect((err, client, done) => {
      if (err !== undefined && err !== null) {
        wait.fail(err);
        return;
      }
      const c = client as PoolClient;
      const held = wait.grant(c);
      if (held === null) {
        // the wait was aborted (deadlock victim) before pg got to it: give the client straight back
        done();
        return;
      }
      const release = wrapRelease(c, held, backends);
      answered = true;
      backends.wrapQuery(c);
      // the first checkout of a connection learns its backend before the app can run a statement
      backends.checkedOut(c, owner).then(() => cb(undefined, c, release));
    });
  }

  // `function` so the reported call site starts at the application's connect()/query() call
  function instrumented(this: unknown, cb?: ConnectCallback): Promise<PoolClient> | undefined {
    if (typeof cb === 'function') {
      checkout(cb);
      return undefined;
    }
    return new Promise<PoolClient>((resolve, reject) => {
      checkout((err, client) => (err ? reject(err) : resolve(client as PoolClient)));
    });
  }

  // pg's pool.query() checks out through `this.connect(cb)` and calls `client.release(err)`:
  // it goes through the same path as a direct connect().
  Object.defineProperty(pool, 'connect', { value: instrumented, configurable: true, writable: true });
  Object.defineProperty(pool, 'deadlockd', { value: resource, configurable: true });
  Object.defineProperty(pool, INSTRUMENTED, { value: true });
  return marked;
}

/** Make this checkout's release() report the unit's return after pg takes the client back. */
function wrapRelease(client: PoolClient, held: ExternalHeld<PoolClient>, backends: PoolBackends): (err?: unknown) => void {
  // pg sets a fresh release() on the client at every checkout (and passes the same function as
  // `done`): wrap this checkout's one
  const pgRelease = client.release.bind(client) as (err?: unknown) => void;
  const release = (err?: unknown): void => {
    try {
      backends.released(client);
      pgRelease(err as Error | boolean | undefined); // throws on a double release, like pg does
    } finally {
      if (!held.released) held.release();
    }
  };
  client.release = release as PoolClient['release'];
  return release;
}

function noop(): void {}

/** The task that calls connect(), taken in its own async context (pg calls back from another). */
function currentOwner(pool: ExternalPool): import('../model.js').Owner {
  return (pool as unknown as { rt: import('../runtime.js').Runtime }).rt.owners.current();
}
