// 3f. Memory per live hold of the real daemon process (the CLI, defaults): the RSS of its process
// (/proc/<pid>/status) before and after N holds, each read after a full GC in the daemon and a
// settle. The GC is asked for over the daemon's own inspector (`--inspect` on a random loopback
// port, HeapProfiler.collectGarbage), so garbage from parsing the frames is not counted as live.
// The young generation is grown to its working size before the first reading (the same number
// of events, as holds that are released again), so its growth is not counted either.
//   own:    N holds, each with its own new owner and its own new mutex (the worst case)
//   shared: N holds on a grid of existing owners × semaphores (only the hold is new)
// Beside RSS, the daemon's V8 heap in use after the same GC (Runtime.getHeapUsage): RSS is the
// goal (what the process costs), the heap the part of it that is JavaScript objects.
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { startDaemon } from '@deadlockd/e2e/harness';
import type { ClientEvent } from '@deadlockd/proto';
import { progress } from './child.js';
import { QUICK } from './mode.js';
import { RawClient } from './raw-client.js';
import { sleep } from './stats.js';

interface Side {
  holds: number;
  /** RSS delta / holds */
  rssBytesPerHold: number;
  /** V8 heap used delta / holds */
  heapBytesPerHold: number;
}

export interface DaemonMemoryResult {
  own: Side;
  shared: Side;
}

const rss = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
};

/** The daemon's inspector: one request at a time is all this needs. */
class Inspector {
  private id = 0;
  private constructor(private readonly ws: WebSocket) {}

  static async open(url: string): Promise<Inspector> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Inspector(ws);
  }

  call<T>(method: string): Promise<T> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      const onMessage = (data: Buffer): void => {
        const m = JSON.parse(String(data)) as { id?: number; result?: T; error?: unknown };
        if (m.id !== id) return;
        this.ws.off('message', onMessage);
        if (m.error) reject(new Error(`${method}: ${JSON.stringify(m.error)}`));
        else resolve(m.result as T);
      };
      this.ws.on('message', onMessage);
      this.ws.send(JSON.stringify({ id, method }));
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** node prints the inspector's URL on stderr at start (before the daemon's listening line, usually). */
async function inspectorUrlOf(logs: () => string): Promise<string> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(logs());
    if (m) return m[1] as string;
    if (performance.now() > deadline) throw new Error(`the daemon printed no inspector URL:\n${logs()}`);
    await sleep(20);
  }
}

async function send(c: RawClient, events: ClientEvent[], seq: { n: number }): Promise<void> {
  for (let i = 0; i < events.length; i += 2_000) c.send({ type: 'events', seq: seq.n++, events: events.slice(i, i + 2_000) });
  await c.sync();
  if (c.errors.length > 0) throw new Error(`daemon rejected: ${JSON.stringify(c.errors[0])}`);
}

/** RSS and heap used after two full GCs in the daemon and a settle. */
async function settled(inspector: Inspector, pid: number): Promise<{ rss: number; heap: number }> {
  for (let i = 0; i < 2; i++) await inspector.call('HeapProfiler.collectGarbage');
  await sleep(300);
  const { usedSize } = await inspector.call<{ usedSize: number }>('Runtime.getHeapUsage');
  return { rss: rss(pid), heap: usedSize };
}

/** Owner o<i> holds its own mutex r<i>, declared with handle i and named by it (as the SDKs do). */
const ownHold = (i: number): ClientEvent[] => [
  { type: 'resource', resource: `r${i}`, kind: 'mutex', scope: 'local', handle: i },
  { type: 'hold', owner: `o${i}`, resource: i },
];

export async function measureDaemonMemory(): Promise<DaemonMemoryResult> {
  const n = QUICK ? 20_000 : 100_000;
  const daemon = await startDaemon(['--log-level', 'warn'], { NODE_OPTIONS: '--inspect=127.0.0.1:0' });
  const pid = daemon.proc.pid as number;
  const inspectorUrl = await inspectorUrlOf(() => daemon.logs(1_000_000));
  const inspector = await Inspector.open(inspectorUrl);
  try {
    const own = await RawClient.connect(daemon.url, 'bench-mem-own');
    const shared = await RawClient.connect(daemon.url, 'bench-mem-shared');
    const seqOwn = { n: 0 };
    const seqShared = { n: 0 };
    // warm-up: as many events as the measured frames carry, through a client of its own whose
    // owners hold and end (it stays connected, so nothing of it leaves during the readings), so
    // that frame parsing has grown the heap's young generation before the first reading
    const warm = await RawClient.connect(daemon.url, 'bench-mem-warmup');
    const wv: ClientEvent[] = [];
    for (let i = 0; i < n; i++) wv.push(...ownHold(i));
    for (let i = 0; i < n; i++) wv.push({ type: 'end', owner: `o${i}` });
    await send(warm, wv, { n: 0 });
    // own: every hold with its own owner and its own mutex
    const a = await settled(inspector, pid);
    const ev: ClientEvent[] = [];
    for (let i = 0; i < n; i++) ev.push(...ownHold(i));
    await send(own, ev, seqOwn);
    const b = await settled(inspector, pid);
    // shared: owners × semaphores declared first (and settled), then one hold per pair
    const owners = Math.round(Math.sqrt(n));
    const sems = Math.ceil(n / owners);
    const sv: ClientEvent[] = [];
    for (let j = 0; j < sems; j++) sv.push({ type: 'resource', resource: `m${j}`, kind: 'semaphore', scope: 'local', capacity: owners, handle: j });
    for (let i = 0; i < owners; i++) sv.push({ type: 'owner', owner: `s${i}` });
    await send(shared, sv, seqShared);
    const c = await settled(inspector, pid);
    const hv: ClientEvent[] = [];
    for (let i = 0; i < owners; i++) for (let j = 0; j < sems && hv.length < n; j++) hv.push({ type: 'hold', owner: `s${i}`, resource: j, units: 1 });
    await send(shared, hv, seqShared);
    const d = await settled(inspector, pid);
    progress(`daemon memory: ${n} own + ${hv.length} shared holds, RSS ${(d.rss / 2 ** 20).toFixed(0)} MiB, heap ${(d.heap / 2 ** 20).toFixed(0)} MiB`);
    await Promise.all([own.close(), shared.close(), warm.close()]);
    return {
      own: { holds: n, rssBytesPerHold: (b.rss - a.rss) / n, heapBytesPerHold: (b.heap - a.heap) / n },
      shared: { holds: hv.length, rssBytesPerHold: (d.rss - c.rss) / hv.length, heapBytesPerHold: (d.heap - c.heap) / hv.length },
    };
  } finally {
    inspector.close();
    await daemon.stop();
  }
}
