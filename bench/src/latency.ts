// 2. Detection latency through the real SDK and the real daemon (a child
// process). Two tasks take two locks in opposite order; the clock starts at
// the acquire call that closes the cycle and stops when the victim's acquire
// rejects with DeadlockError (whichever of the two the daemon picks).
//   same client:  two tasks of one SDK client, dd.mutex() — resolved at once.
//   two clients:  one task on each of two SDK connections, dd.resource() on
//                 shared names over a fake distributed lock (fake-lock.ts) —
//                 the daemon first runs a confirm round with both clients.
//                 Once with both connections in this process, once with each
//                 client its own process (latency-processes.ts, latency-peer.ts).
// The variants alternate repetition by repetition on the same daemon.
import { connect, DeadlockError, type Client } from '@deadlockd/client';
import { startDaemon } from '@deadlockd/e2e/harness';
import { progress } from './child.js';
import { FakeLockService } from './fake-lock.js';
import { PeerPair } from './latency-processes.js';
import { SIZES } from './mode.js';
import { percentile, sleep } from './stats.js';

interface LatencySide {
  reps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** how often the victim was the task whose acquire closed the cycle */
  victimWasCloser: number;
}

export interface LatencyResult {
  sameClient: LatencySide;
  /** the same with reportAfterMs 0 / flushIntervalMs 0: what the reporting threshold costs */
  sameClientImmediate: LatencySide;
  /** two SDK connections in this one process */
  twoClients: LatencySide;
  /** two SDK clients, each its own process */
  twoProcesses: LatencySide;
}

/** Lets the first task's wait leave the process (reportAfterMs 2 + flush 1 by default) and reach the daemon first. */
const SETTLE_MS = 6;
const REP_TIMEOUT_MS = 15_000;

interface Rep {
  ms: number;
  victim: 'first' | 'closer';
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no DeadlockError within ${REP_TIMEOUT_MS} ms`)), REP_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(t));
}

/**
 * The shape of one repetition: task 1 (run1) takes A then B, task 2 (run2)
 * takes B then A. take1/take2 take a lock inside their task and return its release.
 */
async function oppositeOrder(
  run1: (body: () => Promise<void>) => Promise<void>,
  run2: (body: () => Promise<void>) => Promise<void>,
  take1: (which: 'A' | 'B') => Promise<() => void>,
  take2: (which: 'A' | 'B') => Promise<() => void>,
  what: string,
): Promise<Rep> {
  const aHeld = deferred();
  const goOn = deferred();
  let t0 = 0;
  let tErr = 0;
  let victim: Rep['victim'] | undefined;
  const caught = (who: Rep['victim']) => (err: unknown) => {
    if (!(err instanceof DeadlockError)) throw err;
    tErr = performance.now();
    victim = who;
  };
  const task1 = run1(async () => {
    const releaseA = await take1('A');
    try {
      aHeld.resolve();
      await goOn.promise;
      await take1('B').then((releaseB) => releaseB(), caught('first'));
    } finally {
      releaseA();
    }
  });
  const task2 = run2(async () => {
    const releaseB = await take2('B');
    try {
      await aHeld.promise;
      goOn.resolve(); // task 1 now blocks on B
      await sleep(SETTLE_MS);
      t0 = performance.now();
      await take2('A').then((releaseA) => releaseA(), caught('closer'));
    } finally {
      releaseB();
    }
  });
  await withTimeout(Promise.all([task1, task2]), what);
  if (!victim) throw new Error(`${what}: both acquires succeeded; no deadlock was reported`);
  return { ms: tErr - t0, victim };
}

function sameClientRep(dd: Client, i: number): Promise<Rep> {
  const locks = { A: dd.mutex('lat-a'), B: dd.mutex('lat-b') };
  const take = async (which: 'A' | 'B') => {
    const h = await locks[which].acquire();
    return () => h.release();
  };
  return oppositeOrder(
    (body) => dd.task(`same-1-${i}`, body),
    (body) => dd.task(`same-2-${i}`, body),
    take,
    take,
    'same-client deadlock',
  );
}

function twoClientRep(dd1: Client, dd2: Client, real: FakeLockService, i: number): Promise<Rep> {
  const names = { A: 'lat:shared-a', B: 'lat:shared-b' };
  const taker = (dd: Client) => async (which: 'A' | 'B') => {
    const name = names[which];
    const h = await dd.resource(name).acquire((signal) => real.acquire(name, signal), { dispose: () => real.release(name) });
    return () => {
      real.release(name); // the app releases the real lock, then reports it
      h.release();
    };
  };
  return oppositeOrder(
    (body) => dd1.task(`cross-1-${i}`, body),
    (body) => dd2.task(`cross-2-${i}`, body),
    taker(dd1),
    taker(dd2),
    'two-client deadlock',
  );
}

function summarize(reps: Rep[]): LatencySide {
  const ms = reps.map((r) => r.ms);
  return {
    reps: reps.length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: Math.max(...ms),
    victimWasCloser: reps.filter((r) => r.victim === 'closer').length,
  };
}

export async function measureLatency(): Promise<LatencyResult> {
  const daemon = await startDaemon(['--log-level', 'warn']);
  progress(`latency: daemon pid ${daemon.proc.pid} at ${daemon.httpUrl}`);
  const warnings: string[] = [];
  const logger = { warn: (msg: string) => warnings.push(msg) };
  const opts = { url: daemon.url, reconnect: false as const, logger };
  const dd = await connect({ ...opts, service: 'bench-latency' });
  const dd1 = await connect({ ...opts, service: 'bench-latency-1' });
  const dd2 = await connect({ ...opts, service: 'bench-latency-2' });
  const ddNow = await connect({ ...opts, service: 'bench-latency-now', reportAfterMs: 0, flushIntervalMs: 0 });
  const peers = await PeerPair.start(daemon.url);
  try {
    if (!dd.connected || !dd1.connected || !dd2.connected || !ddNow.connected) throw new Error('SDK did not connect to the daemon');
    const real = new FakeLockService();
    const same: Rep[] = [];
    const cross: Rep[] = [];
    const now: Rep[] = [];
    const procs: Rep[] = [];
    const warmup = 10;
    for (let i = 0; i < SIZES.latencyReps + warmup; i++) {
      const keep = i >= warmup;
      const runSame = async () => {
        const r = await sameClientRep(dd, i);
        if (keep) same.push(r);
      };
      const runCross = async () => {
        const r = await twoClientRep(dd1, dd2, real, i);
        if (keep) cross.push(r);
      };
      const runNow = async () => {
        const r = await sameClientRep(ddNow, i);
        if (keep) now.push(r);
      };
      const runProcs = async () => {
        const r = await peers.rep(i, SETTLE_MS);
        if (keep) procs.push(r);
      };
      // alternate the order, so neither kind of rep always runs on a warmer process
      const order = i % 2 === 0 ? [runSame, runNow, runCross, runProcs] : [runProcs, runCross, runNow, runSame];
      for (const run of order) await run();
    }
    if (warnings.length > 0) progress(`latency: the SDK logged ${warnings.length} warnings, first: ${warnings[0]}`);
    return { sameClient: summarize(same), sameClientImmediate: summarize(now), twoClients: summarize(cross), twoProcesses: summarize(procs) };
  } finally {
    await Promise.all([dd.close(), dd1.close(), dd2.close(), ddNow.close(), peers.stop()]);
    await daemon.stop();
  }
}
