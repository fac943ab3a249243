// One soak client process (started by soak/main.ts through the e2e harness). Modes:
//   local  — two tasks of this process cross two mutexes each round: a deadlock every round,
//            exactly one DeadlockError expected per round.
//   cross  — one side of a pair of processes crossing two distributed locks (harness lock
//            server, global resources) each round: one DeadlockError per round across the pair.
//   calm   — tasks contend on mutexes, a semaphore and an rwlock, always in one order, some
//            holding for long: never a deadlock, so any DeadlockError is a false abort.
// Runs until --until (epoch ms), then prints one JSON line (WorkerResult).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { connect, DeadlockError, type Client } from '@deadlockd/client';
import { Barrier } from '../barrier.js';
import { takeDistributed } from '../distributed-lock.js';
import { LockClient } from '../lock-server.js';
import { argValue, barrier, runMain } from '../service-kit.js';
import { CONNECT_TIMEOUT_MS, sleep } from '../timing.js';

export interface WorkerResult {
  mode: 'local' | 'cross' | 'calm';
  name: string;
  rounds: number;
  /** DeadlockErrors per round (local: per round of this process; cross: this side's share) */
  abortsPerRound: number[];
  falseAborts: number;
  lockOps: number;
  errors: string[];
  /** this process's own event-loop delay, p99 and max, ms */
  loopLagMs: { p99: number; max: number };
}

/** A failsafe on every acquire: a deadlock the daemon missed shows up as a timeout, not a hang. */
const ACQUIRE_FAILSAFE_MS = 60_000;

const mode = argValue('mode') as WorkerResult['mode'];
const name = argValue('name');
const until = Number(argValue('until'));

runMain(async (): Promise<WorkerResult> => {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const dd = await connect({ url: argValue('daemon'), service: name, connectTimeoutMs: CONNECT_TIMEOUT_MS, logger: { warn: () => {}, info: () => {} } });
  if (!dd.connected) throw new Error(`${name}: the SDK did not connect`);
  const r: WorkerResult = { mode, name, rounds: 0, abortsPerRound: [], falseAborts: 0, lockOps: 0, errors: [], loopLagMs: { p99: 0, max: 0 } };
  const error = (e: unknown) => {
    if (r.errors.length < 10) r.errors.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  };
  try {
    if (mode === 'local') await local(dd, r, error);
    else if (mode === 'cross') await cross(dd, r, error);
    else await calm(dd, r, error);
  } finally {
    await dd.close();
    lag.disable();
    r.loopLagMs = { p99: Math.round(lag.percentile(99) / 1e6), max: Math.round(lag.max / 1e6) };
  }
  return r;
});

async function local(dd: Client, r: WorkerResult, error: (e: unknown) => void): Promise<void> {
  for (let round = 0; Date.now() < until; round++) {
    const a = dd.mutex(`a${round % 16}`);
    const b = dd.mutex(`b${round % 16}`);
    const bothHold = new Barrier(2);
    let aborts = 0;
    const side = (first: typeof a, second: typeof a) =>
      dd.task(`round ${round}: ${first.name} then ${second.name}`, async () => {
        const h1 = await first.acquire({ timeoutMs: ACQUIRE_FAILSAFE_MS });
        try {
          await bothHold.wait();
          const h2 = await second.acquire({ timeoutMs: ACQUIRE_FAILSAFE_MS });
          h2.release();
        } finally {
          h1.release();
        }
        r.lockOps += 2;
      }).catch((e: unknown) => {
        if (e instanceof DeadlockError) aborts++;
        else error(e);
      });
    await Promise.all([side(a, b), side(b, a)]);
    r.abortsPerRound.push(aborts);
    r.rounds++;
  }
}

async function cross(dd: Client, r: WorkerResult, error: (e: unknown) => void): Promise<void> {
  const sideA = argValue('side') === 'a';
  const pair = argValue('pair');
  const locks = await LockClient.connect(Number(argValue('lock-port')));
  const stopKey = `soak:${pair}:stop`;
  try {
    for (let round = 0; ; round++) {
      // side a decides when to stop and says so on the lock server's ledger before the barrier;
      // side b reads it after: both stop at the same round
      if (sideA && Date.now() >= until) await locks.set(stopKey, 1);
      await barrier(`${pair}:start:${round}`);
      if ((await locks.get(stopKey)) === 1) return;
      const [first, second] = sideA ? [`${pair}:x`, `${pair}:y`] : [`${pair}:y`, `${pair}:x`];
      let aborted = 0;
      try {
        await dd.task(`${pair} round ${round}: ${first} then ${second}`, async () => {
          const release1 = await takeDistributed(dd, locks, first);
          try {
            await barrier(`${pair}:hold:${round}`);
            const release2 = await takeDistributed(dd, locks, second);
            release2();
          } finally {
            release1();
          }
          r.lockOps += 2;
        });
      } catch (e) {
        if (e instanceof DeadlockError) aborted = 1;
        else error(e);
      }
      r.abortsPerRound.push(aborted);
      r.rounds++;
      await barrier(`${pair}:end:${round}`);
    }
  } finally {
    await locks.close();
  }
}

async function calm(dd: Client, r: WorkerResult, error: (e: unknown) => void): Promise<void> {
  const m1 = dd.mutex('calm:m1');
  const m2 = dd.mutex('calm:m2');
  const pool = dd.semaphore('calm:pool', 2);
  const cfg = dd.rwlock('calm:cfg');
  const worker = async (w: number) => {
    for (let i = 0; Date.now() < until; i++) {
      try {
        await dd.task(`calm ${w}.${i}`, async () => {
          // always cfg → pool → m1 → m2: no cycle can form
          const c = await cfg.acquire(i % 7 === 0 ? 'exclusive' : 'shared', { timeoutMs: ACQUIRE_FAILSAFE_MS });
          try {
            const p = await pool.acquire({ timeoutMs: ACQUIRE_FAILSAFE_MS });
            try {
              const h1 = await m1.acquire({ timeoutMs: ACQUIRE_FAILSAFE_MS });
              try {
                // now and then a long-running holder: others wait behind it, not a deadlock
                await sleep(i % 50 === 0 ? 200 : i % 3);
                const h2 = await m2.acquire({ timeoutMs: ACQUIRE_FAILSAFE_MS });
                h2.release();
              } finally {
                h1.release();
              }
            } finally {
              p.release();
            }
          } finally {
            c.release();
          }
          r.lockOps += 4;
        });
      } catch (e) {
        if (e instanceof DeadlockError) r.falseAborts++;
        else error(e);
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
  r.rounds = 1;
}
