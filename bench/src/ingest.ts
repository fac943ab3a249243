// 1. Ingest rate over a real WebSocket, against its floor. Two servers, each
// its own process: the daemon (the CLI, defaults) and floor-server.ts (a bare
// `ws` server that only JSON.parses). Raw `ws` clients (no SDK) send both the
// same SDK-shaped frames of ingest-workload.ts, pre-serialized, at 1 and 100
// events per frame over 1 and 4 connections (round-robin, one frame each in
// turn); the clock stops when every connection has its barrier `abort` — for
// the daemon, when it has applied (and searched after) every event. All eight
// variants alternate in the same rounds; each run's size is set from that
// variant's previous rate so that every run lasts about the same time.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ServerFrame } from '@deadlockd/proto';
import { startDaemon } from '@deadlockd/e2e/harness';
import { progress } from './child.js';
import { barrier, declarations, EVENTS_PER_UNIT, frames, workload } from './ingest-workload.js';
import { SIZES } from './mode.js';
import { FLOOR_SERVER } from './paths.js';
import { RawClient } from './raw-client.js';
import { alternate, median } from './stats.js';

type Target = 'daemon' | 'floor';

interface IngestSide {
  /** median events/s over the rounds (all connections together) */
  eventsPerSecond: number;
  samples: number[];
  /** median CPU time of the server's main thread per event (ns), over the same runs (absent in results saved before it) */
  cpuNsPerEvent?: number;
}

interface IngestCase {
  eventsPerFrame: number;
  connections: number;
  daemon: IngestSide;
  floor: IngestSide;
  /** daemon / floor, the median of the per-round ratios */
  ratio: number;
  /** floor / daemon main-thread CPU per event, the median of the per-round ratios (absent in results saved before it) */
  cpuRatio?: number;
}

export interface IngestResult {
  cases: IngestCase[];
  rounds: number;
}

/**
 * CPU time the server's main thread (the event loop: where both servers parse, and the daemon
 * applies) has run, in ns: /proc/<pid>/schedstat, whose first field is that thread's time on a CPU.
 * Beside the rates, because a rate also moves with how the kernel batches four sockets' reads.
 */
function mainThreadCpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

async function oneRun(target: Target, wsUrl: string, pid: number, perFrame: number, conns: number, units: number): Promise<{ events: number; seconds: number; cpuNs: number }> {
  const clients = await Promise.all(Array.from({ length: conns }, (_, i) => RawClient.connect(wsUrl, `bench-ingest-${perFrame}-${i}`)));
  try {
    for (const c of clients) c.send({ type: 'events', seq: 0, events: declarations() });
    const timed = [...workload(units), ...barrier()];
    const payload = frames(timed, perFrame, 1);
    const aborted = clients.map((c) => c.next((f) => f.type === 'abort'));
    const cpu0 = mainThreadCpuNs(pid);
    const t0 = performance.now();
    for (const f of payload) for (const c of clients) c.send(f);
    const aborts = (await Promise.all(aborted)) as Extract<ServerFrame, { type: 'abort' }>[];
    const seconds = (performance.now() - t0) / 1000;
    const cpuNs = mainThreadCpuNs(pid) - cpu0;
    for (const c of clients)
      if (c.errors.length > 0) throw new Error(`${target} rejected ${c.errors.length} events, first: ${JSON.stringify(c.errors[0])}`);
    if (target === 'daemon') {
      // Behave like an SDK: the victim's wait ends, then the answer; then tidy up.
      const seq = payload.length + 1;
      clients.forEach((c, i) => {
        const abort = aborts[i] as Extract<ServerFrame, { type: 'abort' }>;
        c.send({ type: 'events', seq, events: [{ type: 'cancel', waitId: abort.waitId, reason: 'deadlock' }] });
        c.send({ type: 'abort_result', deadlock: abort.deadlock, waitId: abort.waitId, result: 'aborted' });
        c.send({ type: 'events', seq: seq + 1, events: [{ type: 'end', owner: 'barrier-x' }, { type: 'end', owner: 'barrier-y' }] });
      });
    }
    return { events: timed.length * conns, seconds, cpuNs };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

async function startFloor(): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [FLOOR_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const port = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`floor server exited (${code}) before listening`)));
  });
  return { url: `ws://127.0.0.1:${port}`, proc };
}

export async function measureIngest(): Promise<IngestResult> {
  const daemon = await startDaemon(['--log-level', 'warn']);
  const floor = await startFloor();
  progress(`ingest: daemon pid ${daemon.proc.pid} at ${daemon.httpUrl}, floor pid ${floor.proc.pid} at ${floor.url}`);
  try {
    const shapes = [
      { perFrame: 100, conns: 1 },
      { perFrame: 100, conns: 4 },
      { perFrame: 1, conns: 1 },
      { perFrame: 1, conns: 4 },
    ];
    const variants = shapes.flatMap((s) =>
      (['daemon', 'floor'] as const).map((target) => ({ ...s, target, units: s.perFrame === 1 ? 1_000 : 4_000 })),
    );
    const cpuPerEvent: number[][] = variants.map(() => []);
    const runs = variants.map((v, k) => async () => {
      const [url, pid] = v.target === 'daemon' ? [daemon.url, daemon.proc.pid] : [floor.url, floor.proc.pid];
      const { events, seconds, cpuNs } = await oneRun(v.target, url, pid as number, v.perFrame, v.conns, v.units);
      (cpuPerEvent[k] as number[]).push(cpuNs / events);
      const rate = events / seconds;
      // size the next run of this variant to last about SIZES.ingestTargetMs
      v.units = Math.max(200, Math.round((rate * SIZES.ingestTargetMs) / 1000 / EVENTS_PER_UNIT / v.conns));
      return rate;
    });
    const samples = await alternate(runs, SIZES.ingestRounds);
    const cases = shapes.map((s, i): IngestCase => {
      const d = samples[2 * i] as number[];
      const f = samples[2 * i + 1] as number[];
      // alternate() runs warm-up rounds too; the CPU lists hold every run, so keep their last ones
      const dc = (cpuPerEvent[2 * i] as number[]).slice(-d.length);
      const fc = (cpuPerEvent[2 * i + 1] as number[]).slice(-f.length);
      return {
        eventsPerFrame: s.perFrame,
        connections: s.conns,
        daemon: { eventsPerSecond: median(d), samples: d, cpuNsPerEvent: median(dc) },
        floor: { eventsPerSecond: median(f), samples: f, cpuNsPerEvent: median(fc) },
        ratio: median(d.map((x, r) => x / (f[r] as number))),
        cpuRatio: median(fc.map((x, r) => x / (dc[r] as number))),
      };
    });
    return { cases, rounds: SIZES.ingestRounds };
  } finally {
    floor.proc.kill();
    await daemon.stop();
  }
}
