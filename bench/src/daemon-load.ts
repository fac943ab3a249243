// 3g. The real daemon process (the CLI) under a big graph: the worst event-
// loop stall while its periodic sweep runs and while GET /v1/graph answers
// (memory per live hold is 3f, daemon-memory.ts).
// A stall is measured from outside: a client pings every 2 ms and the longest
// ping → pong (ws answers a ping on the event loop) over the window is the
// worst stall it saw; the same loop on the idle daemon first gives the
// machine's own noise (this machine is shared), printed beside it.
import { readFileSync } from 'node:fs';
import { startDaemon } from '@deadlockd/e2e/harness';
import type { ClientEvent } from '@deadlockd/proto';
import { progress } from './child.js';
import { QUICK } from './mode.js';
import { RawClient } from './raw-client.js';
import { sleep } from './stats.js';

export interface DaemonLoadResult {
  holds: number;
  sweepIntervalMs: number;
  /** longest ping → pong, ms: idle daemon, during sweeps, during one GET /v1/graph */
  idleLagMs: number;
  sweepLagMs: number;
  graphLagMs: number;
  graphMs: number;
  graphBytes: number;
}

const rss = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
};

async function send(c: RawClient, events: ClientEvent[], seq: { n: number }): Promise<void> {
  for (let i = 0; i < events.length; i += 2_000) c.send({ type: 'events', seq: seq.n++, events: events.slice(i, i + 2_000) });
  await c.sync();
  if (c.errors.length > 0) throw new Error(`daemon rejected: ${JSON.stringify(c.errors[0])}`);
}

/** Longest ping → pong over `ms`, pinging every 2 ms (one ping in flight at a time). */
async function worstPong(c: RawClient, ms: number, during?: () => Promise<void>): Promise<number> {
  let worst = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t = performance.now();
      await c.sync();
      worst = Math.max(worst, performance.now() - t);
      await sleep(2);
    }
  })();
  const t0 = performance.now();
  if (during) await during();
  const left = ms - (performance.now() - t0);
  if (left > 0) await sleep(left);
  stop = true;
  await loop;
  return worst;
}

const median3 = async (f: () => Promise<number>): Promise<number> => {
  const xs = [await f(), await f(), await f()].sort((a, b) => a - b);
  return xs[1] as number;
};

export async function measureDaemonLoad(): Promise<DaemonLoadResult> {
  const perClient = QUICK ? 20_000 : 50_000;
  const sweepIntervalMs = 1_000;
  const daemon = await startDaemon(['--log-level', 'warn', '--sweep-interval-ms', String(sweepIntervalMs)]);
  const pid = daemon.proc.pid as number;
  try {
    const own = await RawClient.connect(daemon.url, 'bench-mem-own');
    const shared = await RawClient.connect(daemon.url, 'bench-mem-shared');
    const pinger = await RawClient.connect(daemon.url, 'bench-pinger');
    const idleLagMs = await median3(() => worstPong(pinger, 1_500));
    await sleep(200);
    // worst case: every hold with its own owner and its own mutex; a 1k-long wait chain on top
    const ev: ClientEvent[] = [];
    for (let i = 0; i < perClient; i++) ev.push({ type: 'resource', resource: `r${i}`, kind: 'mutex', scope: 'local' }, { type: 'hold', owner: `o${i}`, resource: `r${i}` });
    await send(own, ev, { n: 0 });
    // shared: owners × mutexes, every pair one hold
    const owners = Math.round(Math.sqrt(perClient));
    const mutexes = Math.ceil(perClient / owners);
    const sv: ClientEvent[] = [];
    for (let j = 0; j < mutexes; j++) sv.push({ type: 'resource', resource: `m${j}`, kind: 'semaphore', scope: 'local', capacity: owners });
    await send(shared, sv, { n: 0 });
    const hv: ClientEvent[] = [];
    for (let i = 0; i < owners; i++) for (let j = 0; j < mutexes && hv.length < perClient; j++) hv.push({ type: 'hold', owner: `s${i}`, resource: `m${j}`, units: 1 });
    await send(shared, hv, { n: 1_000 });
    const chain: ClientEvent[] = [];
    for (let i = 0; i < 1_000; i++) chain.push({ type: 'wait', waitId: `cw${i}`, owner: `o${i}`, resource: `r${i + 1}` });
    await send(own, chain, { n: 1_000 });
    progress(`daemon load: ${2 * perClient} holds, RSS ${(rss(pid) / 2 ** 20).toFixed(0)} MiB`);
    const sweepLagMs = await median3(() => worstPong(pinger, sweepIntervalMs * 2.5));
    let graphMs = 0;
    let graphBytes = 0;
    const graphLagMs = await median3(() =>
      worstPong(pinger, 300, async () => {
        const t = performance.now();
        const res = await fetch(`${daemon.httpUrl}/v1/graph`);
        graphBytes = (await res.arrayBuffer()).byteLength;
        graphMs = performance.now() - t;
      }),
    );
    await Promise.all([own.close(), shared.close(), pinger.close()]);
    return {
      holds: 2 * perClient,
      sweepIntervalMs,
      idleLagMs,
      sweepLagMs,
      graphLagMs,
      graphMs,
      graphBytes,
    };
  } finally {
    await daemon.stop();
  }
}
