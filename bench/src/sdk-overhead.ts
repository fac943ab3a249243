// 4. What the SDK costs a service, at its default settings, connected to a real daemon (child
// process).
//   a. uncontended acquire+release of dd.mutex() against async-mutex's Mutex, side by side
//      (alternating rounds, medians). Goal: SDK / async-mutex ≤ 1.2×.
//   b. events sent to the daemon per 1,000 lock operations, for a service-like workload: tasks on
//      mutexes and a pool, holds across an I/O turn, a few slow ones, some contention, some
//      nesting (lock-order facts).
//      Side by side with reportAfterMs 0 (report everything), to show what the threshold saves.
import { connect, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_REPORT_AFTER_MS, type Client } from '@deadlockd/client';
import { Mutex as AsyncMutex } from 'async-mutex';
import { startDaemon } from '@deadlockd/e2e/harness';
import { progress } from './child.js';
import { QUICK } from './mode.js';
import { alternate, median, sleep } from './stats.js';
import { fmtInt, fmtNs, fmtRatio, goalRow, infoRow, type Row } from './table.js';

const SDK_OVERHEAD_GOAL = 1.2;

const OPS_PER_ROUND = QUICK ? 20_000 : 100_000;
const ROUNDS = QUICK ? 5 : 15;
const WORKLOAD_OPS = QUICK ? 5_000 : 20_000;

export interface SdkOverheadResult {
  reportAfterMs: number;
  flushIntervalMs: number;
  opsPerRound: number;
  rounds: number;
  nsPerOp: { sdk: number; asyncMutex: number };
  ratio: number;
  /** events per 1,000 lock operations of the service-like workload */
  eventsPer1000: { defaults: number; reportEverything: number };
  framesPer1000: { defaults: number; reportEverything: number };
  uncontendedEventsPer1000: number;
}

async function sdkLoop(dd: Client, n: number): Promise<number> {
  const m = dd.mutex('bench-uncontended');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const h = await m.acquire();
    h.release();
  }
  return ((performance.now() - t0) * 1e6) / n;
}

async function asyncMutexLoop(m: AsyncMutex, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const release = await m.acquire();
    release();
  }
  return ((performance.now() - t0) * 1e6) / n;
}

/**
 * A service-like mix: 16 concurrent tasks, each doing `ops / 16` lock operations on 16 mutexes
 * (mostly its own, every 8th op its neighbour's: some contention) and a pool of 4. A hold spans
 * one event-loop turn (an await of fast I/O, well under a millisecond); every 100th lasts 5 ms
 * (a slow query) and must be reported; every 10th op takes a pool unit and then a mutex (a
 * lock-order fact, sent once per pair). Returns the lock operations done.
 */
async function workload(dd: Client, ops: number): Promise<number> {
  const locks = Array.from({ length: 16 }, (_, i) => dd.mutex(`bench-w-${i}`));
  const pool = dd.semaphore('bench-w-pool', 4);
  const tasks = 16;
  const perTask = Math.ceil(ops / tasks);
  const turn = () => new Promise<void>((r) => setImmediate(r));
  let done = 0;
  await Promise.all(
    Array.from({ length: tasks }, (_, t) =>
      dd.task(`worker ${t}`, async () => {
        for (let i = 0; i < perTask; i++) {
          const lock = locks[(t + (i % 8 === 0 ? 1 : 0)) % locks.length]!;
          if (i % 10 === 0) {
            const conn = await pool.acquire();
            const h = await lock.acquire();
            await turn();
            h.release();
            conn.release();
            done += 2;
          } else {
            const h = await lock.acquire();
            if (i % 100 === 5) await sleep(5);
            else await turn();
            h.release();
            done += 1;
          }
        }
      }),
    ),
  );
  return done;
}

async function eventsPer1000(url: string, reportAfterMs: number | undefined, ops: number, service: string) {
  const dd = await connect({ url, service, reconnect: false, ...(reportAfterMs === undefined ? {} : { reportAfterMs, flushIntervalMs: 0 }) });
  try {
    if (!dd.connected) throw new Error('SDK did not connect to the daemon');
    const done = await workload(dd, ops);
    await sleep(50); // let the last flush go out
    const s = dd.stats;
    return { events: (s.eventsSent * 1000) / done, frames: (s.framesSent * 1000) / done };
  } finally {
    await dd.close();
  }
}

export async function measureSdkOverhead(): Promise<SdkOverheadResult> {
  const daemon = await startDaemon(['--log-level', 'warn']);
  progress(`sdk: daemon pid ${daemon.proc.pid} at ${daemon.httpUrl}`);
  try {
    const dd = await connect({ url: daemon.url, service: 'bench-sdk', reconnect: false });
    let uncontendedEventsPer1000: number;
    let sdk: number[];
    let am: number[];
    try {
      if (!dd.connected) throw new Error('SDK did not connect to the daemon');
      const mutex = new AsyncMutex();
      [sdk, am] = (await alternate([() => sdkLoop(dd, OPS_PER_ROUND), () => asyncMutexLoop(mutex, OPS_PER_ROUND)], ROUNDS, 2)) as [
        number[],
        number[],
      ];
      await sleep(20);
      uncontendedEventsPer1000 = (dd.stats.eventsSent * 1000) / (OPS_PER_ROUND * (ROUNDS + 2));
    } finally {
      await dd.close();
    }
    progress('sdk: service-like workload, defaults vs reportAfterMs 0');
    const defaults = await eventsPer1000(daemon.url, undefined, WORKLOAD_OPS, 'bench-events-defaults');
    const everything = await eventsPer1000(daemon.url, 0, WORKLOAD_OPS, 'bench-events-all');
    const nsSdk = median(sdk);
    const nsAm = median(am);
    return {
      reportAfterMs: DEFAULT_REPORT_AFTER_MS,
      flushIntervalMs: DEFAULT_FLUSH_INTERVAL_MS,
      opsPerRound: OPS_PER_ROUND,
      rounds: ROUNDS,
      nsPerOp: { sdk: nsSdk, asyncMutex: nsAm },
      ratio: nsSdk / nsAm,
      eventsPer1000: { defaults: defaults.events, reportEverything: everything.events },
      framesPer1000: { defaults: defaults.frames, reportEverything: everything.frames },
      uncontendedEventsPer1000,
    };
  } finally {
    await daemon.stop();
  }
}

export function sdkOverheadRows(r: SdkOverheadResult): Row[] {
  const s = '4. SDK cost (defaults)';
  const one = (n: number) => (n < 10 ? n.toFixed(1) : fmtInt(n));
  return [
    infoRow(s, 'uncontended acquire+release: SDK vs async-mutex', `${fmtNs(r.nsPerOp.sdk)} vs ${fmtNs(r.nsPerOp.asyncMutex)}`),
    goalRow(s, 'SDK / async-mutex', fmtRatio(r.ratio), `≤ ${SDK_OVERHEAD_GOAL}×`, r.ratio <= SDK_OVERHEAD_GOAL),
    infoRow(s, 'events per 1,000 uncontended ops', one(r.uncontendedEventsPer1000)),
    infoRow(
      s,
      `events per 1,000 ops, service mix (reportAfterMs ${r.reportAfterMs})`,
      `${one(r.eventsPer1000.defaults)} events in ${one(r.framesPer1000.defaults)} frames`,
    ),
    infoRow(
      s,
      'same mix, reportAfterMs 0 (report everything)',
      `${one(r.eventsPer1000.reportEverything)} events in ${one(r.framesPer1000.reportEverything)} frames`,
    ),
  ];
}
