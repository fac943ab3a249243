// 6. The PostgreSQL lock source (--watch-postgres), on one embedded PostgreSQL at its default
// deadlock_timeout (1 s). Two "services" (two SDK clients, each with an instrumented pg.Pool).
//   pure row-lock cycle:  each UPDATEs its row, then the other's. deadlockd (--pg-resolve) vs
//                         PostgreSQL's own detector (plain connections, 40P01), alternating
//                         repetition by repetition; the clock starts at the UPDATE that closes
//                         the cycle and stops at the first DeadlockError / 40P01.
//   app × row-lock cycle: A holds an app lock and UPDATEs B's row; B, in its open transaction,
//                         asks for the app lock. PostgreSQL never sees it (it would wait until
//                         lock_timeout); the clock stops at the one DeadlockError.
//   cost per poll:        the source's poll, called in a loop in this process, with N idle
//                         backends connected (pg_stat_activity only) and with some waiting
//                         (pg_locks and pg_blocking_pids too): CPU time and wall time per poll.
import { connect, DeadlockError, type Client } from '@deadlockd/client';
import { instrumentPool } from '@deadlockd/client/pg';
import { startPostgres, type Postgres } from '@deadlockd/e2e/embedded-pg';
import { startDaemon } from '@deadlockd/e2e/harness';
import { buildServer, PgSource, resolveConfig } from '@deadlockd/server';
import { Mutex as AsyncMutex } from 'async-mutex';
import pg from 'pg';
import { progress } from './child.js';
import { QUICK } from './mode.js';
import { median, sleep } from './stats.js';
import { fmtMs, fmtRatio, infoRow, type Row } from './table.js';

const REPS = QUICK ? 3 : 30;
const MIXED_REPS = QUICK ? 3 : 30;
const POLLS = QUICK ? 50 : 300;
const BACKENDS = QUICK ? [0, 20] : [0, 100, 1000];
/** lets the first side's wait reach the server and the daemon before the cycle closes */
const SETTLE_MS = 60;

export interface PgSourceBenchResult {
  reps: number;
  deadlockTimeout: string;
  pureMs: { deadlockd: number[]; postgres: number[] };
  mixedMs: number[];
  medianMs: { pureDeadlockd: number; purePostgres: number; mixed: number };
  speedup: number;
  perPoll: Array<{ backends: number; waiting: number; cpuUs: number; wallMs: number } | { backends: number; error: string }>;
}

const url = (p: Postgres) => `postgresql://${p.config.user}:${p.config.password}@${p.config.host}:${p.config.port}/${p.config.database}`;

async function pureRep(begin: () => Promise<[pg.PoolClient | pg.Client, pg.PoolClient | pg.Client]>, isDeadlock: (e: unknown) => boolean): Promise<number> {
  const [a, b] = await begin();
  await Promise.all([a.query('begin'), b.query('begin')]);
  await a.query('update accounts set balance = balance - 1 where id = 1');
  await b.query('update accounts set balance = balance - 1 where id = 2');
  let tEnd = 0;
  const side = async (c: pg.PoolClient | pg.Client, id: number) => {
    try {
      await c.query('update accounts set balance = balance + 1 where id = $1', [id]);
      await c.query('commit');
    } catch (e) {
      if (!isDeadlock(e)) throw e;
      tEnd ||= performance.now();
      await c.query('rollback');
    }
  };
  const first = side(a, 2);
  await sleep(SETTLE_MS);
  const t0 = performance.now();
  await Promise.all([first, side(b, 1)]);
  if (tEnd === 0) throw new Error('no deadlock was reported');
  return tEnd - t0;
}

async function mixedRep(a: Client, b: Client, poolA: pg.Pool, poolB: pg.Pool, ledger: AsyncMutex, rep: number): Promise<number> {
  const take = (dd: Client) =>
    dd.resource('bench-ledger').acquire(() => ledger.acquire(), { dispose: (release) => release() });
  let tEnd = 0;
  const stopOn = (e: unknown) => {
    if (!(e instanceof DeadlockError)) throw e;
    tEnd ||= performance.now();
  };
  const aHolding = deferred();
  const bHolding = deferred();
  let t0 = 0;
  const sideA = a.task(`A #${rep}`, async () => {
    const l = await take(a);
    const c = await poolA.connect();
    try {
      await c.query('begin');
      aHolding.resolve();
      await bHolding.promise;
      await c.query('update accounts set balance = balance - 1 where id = 1'); // waits for B's row
      await c.query('commit');
    } catch (e) {
      await c.query('rollback');
      stopOn(e);
    } finally {
      c.release();
      l.value();
      l.release();
    }
  });
  const sideB = b.task(`B #${rep}`, async () => {
    const c = await poolB.connect();
    try {
      await c.query('begin');
      await c.query('update accounts set balance = balance + 1 where id = 1');
      bHolding.resolve();
      await aHolding.promise;
      await sleep(SETTLE_MS); // A's UPDATE waits on the server, and the daemon saw it
      t0 = performance.now();
      const l = await take(b); // closes the cycle
      l.value();
      l.release();
      await c.query('commit');
    } catch (e) {
      await c.query('rollback');
      stopOn(e);
    } finally {
      c.release();
    }
  });
  await Promise.all([sideA, sideB]);
  if (tEnd === 0) throw new Error('no deadlock was reported');
  return tEnd - t0;
}

async function measurePolls(postgres: Postgres): Promise<PgSourceBenchResult['perPoll']> {
  const out: PgSourceBenchResult['perPoll'] = [];
  // 'error': the queued backends below are long waits on purpose, and their warnings (a
  // multi-KB report each, on this process's stderr) would bury the bench's own output
  const app = buildServer(resolveConfig({ port: 0, logLevel: 'error', sweepIntervalMs: 0 }));
  await app.ready();
  const source = new PgSource({
    connectionString: url(postgres),
    hub: app.deadlockd.hub,
    namespace: 'default',
    log: app.log,
    pollMs: 60_000, // polled by hand below
    resolve: false,
    cancelUnowned: false,
    queryChars: 200,
    answerTimeoutMs: 5_000,
  });
  const idle: pg.Client[] = [];
  try {
    await source.start();
    for (const n of BACKENDS) {
      try {
        while (idle.length < n) {
          const batch = Array.from({ length: Math.min(50, n - idle.length) }, () => new pg.Client(postgres.config));
          await Promise.all(batch.map((c) => c.connect()));
          idle.push(...batch);
        }
        for (const waiting of n >= 20 ? [0, 10] : [0]) {
          // `waiting` of the idle backends queue for one row an open transaction holds
          const holder = new pg.Client(postgres.config);
          await holder.connect();
          const queued: Promise<unknown>[] = [];
          if (waiting > 0) {
            await holder.query('begin');
            await holder.query('update accounts set balance = balance where id = 2');
            for (const c of idle.slice(0, waiting)) queued.push(c.query('update accounts set balance = balance where id = 2'));
            await until(async () => (await holder.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock'`)).rows[0].n === waiting);
          }
          for (let i = 0; i < 10; i++) await source.poll(); // warm-up
          const cpu0 = process.cpuUsage();
          const t0 = performance.now();
          for (let i = 0; i < POLLS; i++) await source.poll();
          const wallMs = (performance.now() - t0) / POLLS;
          const cpu = process.cpuUsage(cpu0);
          out.push({ backends: n, waiting, cpuUs: (cpu.user + cpu.system) / POLLS, wallMs });
          progress(`pg source: ${n} backends, ${waiting} waiting: ${((cpu.user + cpu.system) / POLLS).toFixed(0)} µs CPU, ${wallMs.toFixed(2)} ms per poll`);
          if (waiting > 0) await holder.query('rollback');
          await Promise.all(queued);
          await holder.end();
        }
      } catch (e) {
        out.push({ backends: n, error: String((e as Error)?.message ?? e) });
        break;
      }
    }
  } finally {
    await Promise.allSettled(idle.map((c) => c.end()));
    await source.stop();
    await app.close();
  }
  return out;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(probe: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error('condition not reached in 30 s');
    await sleep(10);
  }
}

export async function measurePgSource(): Promise<PgSourceBenchResult> {
  const postgres = await startPostgres({ settings: { max_connections: String(Math.max(...BACKENDS) + 50) } });
  const open: Array<{ end(): Promise<void> }> = [];
  try {
    const setup = new pg.Client(postgres.config);
    await setup.connect();
    open.push(setup);
    await setup.query('create table accounts (id int primary key, balance int not null)');
    await setup.query('insert into accounts values (1, 1000), (2, 1000)');
    const deadlockTimeout = String((await setup.query('show deadlock_timeout')).rows[0]?.deadlock_timeout);
    const daemon = await startDaemon(['--log-level', 'info', '--watch-postgres', url(postgres), '--pg-resolve']);
    open.push({ end: () => daemon.stop() });
    await daemon.waitForLog(/postgres source watching/, 15_000);
    progress(`pg source: embedded PostgreSQL on port ${postgres.port}, daemon pid ${daemon.proc.pid}`);
    const client = async (service: string) => {
      const dd = await connect({ url: daemon.url, service, reconnect: false });
      if (!dd.connected) throw new Error('SDK did not connect to the daemon');
      open.push({ end: () => dd.close() });
      const pool = instrumentPool(dd, new pg.Pool({ ...postgres.config, max: 2 }), { name: `${service}-db` });
      open.push(pool);
      return { dd, pool };
    };
    const [a, b] = [await client('bench-pg-a'), await client('bench-pg-b')];
    const [pa, pb] = [new pg.Client(postgres.config), new pg.Client(postgres.config)];
    await Promise.all([pa.connect(), pb.connect()]);
    open.push(pa, pb);

    const ours = async () => {
      const [ca, cb] = [await a.pool.connect(), await b.pool.connect()];
      try {
        return await a.dd.task('A', () => b.dd.task('B', () => pureRep(async () => [ca, cb], (e) => e instanceof DeadlockError)));
      } finally {
        ca.release();
        cb.release();
      }
    };
    const theirs = () => pureRep(async () => [pa, pb], (e) => (e as { code?: string }).code === '40P01');
    const pure = { deadlockd: [] as number[], postgres: [] as number[] };
    await ours(); // warm-up
    for (let i = 0; i < REPS; i++) {
      if (i % 2 === 0) {
        pure.deadlockd.push(await ours());
        pure.postgres.push(await theirs());
      } else {
        pure.postgres.push(await theirs());
        pure.deadlockd.push(await ours());
      }
    }
    const ledger = new AsyncMutex();
    const mixed: number[] = [];
    await mixedRep(a.dd, b.dd, a.pool, b.pool, ledger, -1); // warm-up
    for (let i = 0; i < MIXED_REPS; i++) mixed.push(await mixedRep(a.dd, b.dd, a.pool, b.pool, ledger, i));
    const perPoll = await measurePolls(postgres);
    const med = { pureDeadlockd: median(pure.deadlockd), purePostgres: median(pure.postgres), mixed: median(mixed) };
    return { reps: REPS, deadlockTimeout, pureMs: pure, mixedMs: mixed, medianMs: med, speedup: med.purePostgres / med.pureDeadlockd, perPoll };
  } finally {
    for (const c of open.reverse()) await c.end().catch(() => {});
    await postgres.stop();
  }
}

export function pgSourceRows(r: PgSourceBenchResult): Row[] {
  const s = '8. PostgreSQL lock source';
  const rows = [
    infoRow(s, `row-lock cycle, deadlockd --pg-resolve: cycle → DeadlockError (n=${r.reps})`, `median ${fmtMs(r.medianMs.pureDeadlockd)}`),
    infoRow(s, `same cycle, PostgreSQL's detector, deadlock_timeout ${r.deadlockTimeout} (n=${r.reps})`, `median ${fmtMs(r.medianMs.purePostgres)}`),
    infoRow(s, 'row-lock cycle: PostgreSQL / deadlockd', fmtRatio(r.speedup)),
    infoRow(s, `app lock × row lock cycle: cycle → DeadlockError (n=${r.mixedMs.length})`, `median ${fmtMs(r.medianMs.mixed)}`),
    infoRow(s, 'same cycle, PostgreSQL alone', 'never (until lock_timeout)'),
  ];
  for (const p of r.perPoll) {
    if ('error' in p) rows.push(infoRow(s, `poll with ${p.backends} backends`, `not measured: ${p.error.slice(0, 60)}`));
    else rows.push(infoRow(s, `poll, ${p.backends} backends, ${p.waiting} waiting`, `${Math.round(p.cpuUs)} µs CPU, ${fmtMs(p.wallMs)} wall`));
  }
  return rows;
}
