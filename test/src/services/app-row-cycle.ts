// The cycle through an application lock and a row lock (issue 13), one side per process:
//   lock-first  takes the app lock `ledger` (a distributed lock on the harness lock server), then
//               UPDATEs row 1 of accounts: it waits for the row-first side's row lock;
//   row-first   UPDATEs row 1 in an open transaction, then takes `ledger`: it waits for the
//               lock-first side. PostgreSQL sees one backend waiting and nothing wrong.
//   rows        no app lock: UPDATEs row --first, then row --second, in one transaction (two
//               such services in opposite orders make a pure row-lock deadlock).
// All run in retryOnDeadlock; lock-first and row-first move `amount` from account 1 to 2 in one
// transaction, rows moves it from --first to --second.
//
//   node app-row-cycle.js --daemon <ws url> --pg <json config> --lock-port <n> --service <name>
//        --role lock-first|row-first --amount <n> [--priority <n>] [--lock-timeout-ms <n>]
//        [--no-daemon] [--give-up-key <key>] [--sleep-after-debit-ms <n>]
// --give-up-key: the row-first side stops waiting for `ledger` (AbortError, rollback) once the
// test sets that key to 1 on the lock server.
// Each side sets `done:<its service>` on the lock server to 0 when it starts and to 1 when it is
// through; a side given `--peer <the other service>` retries only after the other is through:
// a retry that raced the other side back to the row would make a second, real deadlock
// (PostgreSQL does not queue a new UPDATE behind a waiter once the row's locker is gone).
// Prints {service, role, moved, deadlockErrors, errorCode, elapsedMs, reports, backendPid}.
import { connect, isDeadlockError, type DeadlockReport } from '@deadlockd/client';
import { instrumentPool } from '@deadlockd/client/pg';
import pg from 'pg';
import { takeDistributed } from '../distributed-lock.js';
import { LockClient } from '../lock-server.js';
import { argValue, barrier, runMain } from '../service-kit.js';

const flag = (name: string) => process.argv.includes(`--${name}`);
const optional = (name: string) => (process.argv.includes(`--${name}`) ? argValue(name) : undefined);

runMain(async () => {
  const url = argValue('daemon');
  const service = argValue('service');
  const role = argValue('role');
  const amount = Number(argValue('amount'));
  const priority = Number(optional('priority') ?? 0);
  const lockTimeoutMs = optional('lock-timeout-ms');
  const sleepAfterDebitMs = optional('sleep-after-debit-ms');
  const config = JSON.parse(argValue('pg')) as pg.PoolConfig;

  const dd = await connect({ url, service, connectTimeoutMs: flag('no-daemon') ? 200 : 5_000, reconnect: flag('no-daemon') ? false : undefined });
  if (!flag('no-daemon') && !dd.connected) throw new Error(`SDK did not connect to ${url}`);
  const locks = await LockClient.connect(Number(argValue('lock-port')));
  const pool = instrumentPool(dd, new pg.Pool({ ...config, max: 2 }), { name: `${service}-db` });

  let attempt = 0;
  let deadlockErrors = 0;
  let backendPid = 0;
  const reports: DeadlockReport[] = [];
  const begin = async (c: pg.PoolClient) => {
    backendPid = (c as unknown as { processID: number }).processID;
    await c.query('begin');
    if (lockTimeoutMs !== undefined) await c.query(`set local lock_timeout = '${Number(lockTimeoutMs)}ms'`);
  };
  const debit = (c: pg.PoolClient) => c.query('update accounts set balance = balance - $1 where id = 1', [amount]);
  const credit = (c: pg.PoolClient) => c.query('update accounts set balance = balance + $1 where id = 2', [amount]);

  const lockFirst = async () => {
    const release = await takeDistributed(dd, locks, 'ledger');
    try {
      const c = await pool.connect();
      try {
        await begin(c);
        if (attempt === 1) await barrier('both-holding');
        await debit(c); // waits for the other side's row lock
        if (sleepAfterDebitMs !== undefined) await c.query('select pg_sleep($1)', [Number(sleepAfterDebitMs) / 1000]);
        await credit(c);
        await c.query('commit');
      } catch (e) {
        await c.query('rollback').catch(() => {});
        throw e;
      } finally {
        c.release();
      }
    } finally {
      release();
    }
  };
  const giveUpKey = optional('give-up-key');
  const takeLedger = async (): Promise<() => void> => {
    if (giveUpKey === undefined) return takeDistributed(dd, locks, 'ledger');
    const giveUp = new AbortController();
    const watch = setInterval(() => {
      locks.get(giveUpKey).then((v) => v === 1 && giveUp.abort(Object.assign(new Error('gave up waiting for ledger'), { code: 'GAVE_UP' })), () => {});
    }, 20);
    try {
      const held = await dd.resource('ledger').acquire((signal) => locks.acquire('ledger', AbortSignal.any([signal, giveUp.signal])), {
        signal: giveUp.signal,
        dispose: () => locks.release('ledger'),
      });
      return () => {
        locks.release('ledger');
        held.release();
      };
    } finally {
      clearInterval(watch);
    }
  };
  const peer = optional('peer');
  const afterPeer = async () => {
    if (attempt > 1 && peer !== undefined) while ((await locks.get(`done:${peer}`)) !== 1) await new Promise((r) => setTimeout(r, 10));
  };
  const rowFirst = async () => {
    await afterPeer();
    const c = await pool.connect();
    try {
      await begin(c);
      await debit(c);
      if (attempt === 1) await barrier('both-holding');
      const release = await takeLedger(); // waits for the other side's app lock
      try {
        await credit(c);
        await c.query('commit');
      } finally {
        release();
      }
    } catch (e) {
      await c.query('rollback').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  };

  const rows = async () => {
    const [first, second] = [Number(argValue('first')), Number(argValue('second'))];
    await afterPeer();
    const c = await pool.connect();
    try {
      await begin(c);
      await c.query('update accounts set balance = balance - $1 where id = $2', [amount, first]);
      if (attempt === 1) await barrier('both-holding');
      await c.query('update accounts set balance = balance + $1 where id = $2', [amount, second]); // the other side holds it
      await c.query('commit');
    } catch (e) {
      await c.query('rollback').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  };

  await locks.set(`done:${service}`, 0);
  const t0 = performance.now();
  let errorCode: string | undefined;
  let moved = 0;
  try {
    await dd.task(`${service} ${role} transfer`, { priority }, () =>
      dd.retryOnDeadlock(async () => {
        attempt++;
        try {
          await (role === 'lock-first' ? lockFirst() : role === 'rows' ? rows() : rowFirst());
        } catch (e) {
          if (isDeadlockError(e)) {
            deadlockErrors++;
            reports.push(e.report);
          }
          throw e;
        }
      }),
    );
    moved = amount;
  } catch (e) {
    errorCode = String((e as { code?: unknown }).code ?? (e as Error).message);
  }
  const elapsedMs = performance.now() - t0;
  await locks.set(`done:${service}`, 1);
  await pool.end();
  await locks.close();
  await dd.close();
  return { service, role, moved, deadlockErrors, errorCode, elapsedMs, reports, backendPid, attempts: attempt };
});
