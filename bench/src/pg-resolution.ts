// 5. Time to resolution of the same two-service deadlock on PostgreSQL advisory locks, with
// deadlockd vs PostgreSQL's own detector, side by side on one embedded PostgreSQL (default
// deadlock_timeout, 1 s). Two "services" — two SDK clients, each with its own database connection
// (backend) — take keys 1 and 2 in opposite order. The clock starts at the acquire that closes the
// cycle and stops when one side's lock call fails:
//   deadlockd:   advisoryLock(...).acquire() rejects with DeadlockError — after the victim's
//                pg_advisory_lock was cancelled on the server;
//   PostgreSQL:  plain pg_advisory_lock on both sides; one fails with 40P01 (deadlock_detected).
// The variants alternate repetition by repetition.
import { connect, DeadlockError, type Client } from '@deadlockd/client';
import { advisoryLock } from '@deadlockd/client/pg-advisory';
import { startPostgres } from '@deadlockd/e2e/embedded-pg';
import pg from 'pg';
import { startDaemon } from '@deadlockd/e2e/harness';
import { progress } from './child.js';
import { QUICK } from './mode.js';
import { median, sleep } from './stats.js';
import { fmtMs, fmtRatio, infoRow, type Row } from './table.js';

const REPS = QUICK ? 2 : 30;
/** lets the first side's lock wait reach the server (and the daemon) before the cycle closes */
const SETTLE_MS = 30;

export interface PgResolutionResult {
  reps: number;
  deadlockTimeout: string;
  deadlockdMs: number[];
  postgresMs: number[];
  medianMs: { deadlockd: number; postgres: number };
  /** PostgreSQL's time / deadlockd's time */
  speedup: number;
}

interface Side {
  dd: Client;
  db: pg.Client;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * One repetition: A takes `1`, B takes `2`; then A asks for 2 (and blocks), and after SETTLE_MS B
 * asks for 1, closing the cycle. take() returns the release, or null when the lock call failed
 * with the variant's deadlock error (the clock stops at the first such failure).
 */
async function oppositeOrder(
  runSide: (side: 'A' | 'B', body: () => Promise<void>) => Promise<void>,
  take: (side: 'A' | 'B', key: number) => Promise<(() => Promise<void>) | null>,
): Promise<number> {
  const aHeld = deferred();
  const bHeld = deferred();
  let t0 = 0;
  let tEnd = 0;
  const stop = <T>(r: T | null): T | null => {
    if (r === null) tEnd ||= performance.now();
    return r;
  };
  const a = runSide('A', async () => {
    const r1 = (await take('A', 1))!;
    aHeld.resolve();
    await bHeld.promise;
    const r2 = stop(await take('A', 2));
    await r2?.();
    await r1();
  });
  const b = runSide('B', async () => {
    const r2 = (await take('B', 2))!;
    bHeld.resolve();
    await aHeld.promise;
    await sleep(SETTLE_MS); // A's wait is on the server (and reported) by now
    t0 = performance.now();
    const r1 = stop(await take('B', 1));
    await r1?.();
    await r2();
  });
  await Promise.all([a, b]);
  if (tEnd === 0) throw new Error('no deadlock was reported');
  return tEnd - t0;
}

function deadlockdRep(a: Side, b: Side, rep: number): Promise<number> {
  const sides = { A: a, B: b };
  return oppositeOrder(
    // each side's whole attempt is one task (one owner), as in a service
    (who, body) => sides[who].dd.task(`service ${who} #${rep}`, body),
    async (who, key) => {
      const s = sides[who];
      try {
        const h = await advisoryLock(s.dd, s.db, key).acquire();
        return () => h.release();
      } catch (e) {
        if (e instanceof DeadlockError) return null;
        throw e;
      }
    },
  );
}

function postgresRep(a: pg.Client, b: pg.Client): Promise<number> {
  const conns = { A: a, B: b };
  return oppositeOrder((_who, body) => body(), async (who, key) => {
    const c = conns[who];
    try {
      await c.query('select pg_advisory_lock($1::int8)', [key]);
    } catch (e) {
      if ((e as { code?: string }).code === '40P01') return null; // deadlock_detected
      throw e;
    }
    return async () => {
      await c.query('select pg_advisory_unlock($1::int8)', [key]);
    };
  });
}

export async function measurePgResolution(): Promise<PgResolutionResult> {
  const [postgres, daemon] = await Promise.all([startPostgres(), startDaemon(['--log-level', 'warn'])]);
  const open: Array<{ end(): Promise<void> }> = [];
  try {
    progress(`pg: embedded PostgreSQL on port ${postgres.port}, daemon pid ${daemon.proc.pid}`);
    const config = postgres.config;
    const side = async (service: string): Promise<Side> => {
      const dd = await connect({ url: daemon.url, service, reconnect: false });
      if (!dd.connected) throw new Error('SDK did not connect to the daemon');
      const db = new pg.Client(config);
      await db.connect();
      open.push(db, { end: () => dd.close() });
      return { dd, db };
    };
    const [a, b] = [await side('bench-pg-a'), await side('bench-pg-b')];
    const [pa, pb] = [new pg.Client(config), new pg.Client(config)];
    await Promise.all([pa.connect(), pb.connect()]);
    open.push(pa, pb);
    const deadlockTimeout = String((await pa.query('show deadlock_timeout')).rows[0]?.deadlock_timeout);
    const ours: number[] = [];
    const theirs: number[] = [];
    await deadlockdRep(a, b, -1); // warm-up
    for (let i = 0; i < REPS; i++) {
      if (i % 2 === 0) {
        ours.push(await deadlockdRep(a, b, i));
        theirs.push(await postgresRep(pa, pb));
      } else {
        theirs.push(await postgresRep(pa, pb));
        ours.push(await deadlockdRep(a, b, i));
      }
    }
    const med = { deadlockd: median(ours), postgres: median(theirs) };
    return { reps: REPS, deadlockTimeout, deadlockdMs: ours, postgresMs: theirs, medianMs: med, speedup: med.postgres / med.deadlockd };
  } finally {
    await Promise.allSettled(open.map((c) => c.end()));
    await daemon.stop();
    await postgres.stop();
  }
}

export function pgResolutionRows(r: PgResolutionResult): Row[] {
  const s = '5. advisory-lock deadlock, 2 services';
  return [
    infoRow(s, `deadlockd: cycle → DeadlockError, server wait cancelled (n=${r.reps})`, `median ${fmtMs(r.medianMs.deadlockd)}`),
    infoRow(s, `PostgreSQL's detector, deadlock_timeout ${r.deadlockTimeout} (n=${r.reps})`, `median ${fmtMs(r.medianMs.postgres)}`),
    infoRow(s, 'PostgreSQL / deadlockd', fmtRatio(r.speedup)),
  ];
}
