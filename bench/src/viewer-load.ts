// 3f (dashboard part). What one dashboard viewer costs the daemon:
// - ingest with and without one live viewer (`/v1/live`, the page's feed) of
//   the namespace being written to, side by side in alternating rounds: the
//   ingest workload of row 1 (100 events/frame, one connection) on a fresh
//   daemon, the viewer reading every frame as a browser would;
// - the worst event-loop stall (ping-lag.ts) while a viewer watches a big
//   blocked part that keeps changing, on a daemon with the sweep off (the
//   sweep's own stall has its row), beside the same without the viewer.
import { WebSocket } from 'ws';
import type { ClientEvent, ServerFrame } from '@deadlockd/proto';
import { startDaemon } from '@deadlockd/e2e/harness';
import { barrier, declarations, EVENTS_PER_UNIT, frames, workload } from './ingest-workload.js';
import { QUICK, SIZES } from './mode.js';
import { median3, Pinger, send, worstPong } from './ping-lag.js';
import { RawClient } from './raw-client.js';
import { alternate, median, sleep } from './stats.js';

export const BLOCKED_OWNERS = QUICK ? 5_000 : 20_000;

/** `owners` owners queued on 200 mutexes, each held by an owner of its own. */
export function blockedPart(owners: number): ClientEvent[] {
  const ev: ClientEvent[] = [];
  for (let j = 0; j < 200; j++) ev.push({ type: 'resource', resource: `b${j}`, kind: 'mutex', scope: 'local' }, { type: 'hold', owner: `h${j}`, resource: `b${j}` });
  for (let i = 0; i < owners; i++) ev.push({ type: 'wait', waitId: `bw${i}`, owner: `q${i}`, resource: `b${i % 200}` });
  return ev;
}

export interface ViewerStallResult {
  /** longest ping → pong, ms (median of 3 windows): without a viewer, with one, and while it opens */
  baseLagMs: number;
  lagMs: number;
  openLagMs: number;
  /** frames the viewer got over the windows, their mean size */
  frames: number;
  frameBytes: number;
  windowMs: number;
}

/** One /v1/live?view=blocked viewer on BLOCKED_OWNERS blocked owners while a wait comes and goes every 20 ms. */
export async function measureViewerStall(): Promise<ViewerStallResult> {
  const daemon = await startDaemon(['--log-level', 'warn', '--sweep-interval-ms', '0']);
  const windowMs = 3_000;
  try {
    const blocked = await RawClient.connect(daemon.url, 'bench-blocked');
    const pinger = await Pinger.start(daemon.url);
    await send(blocked, blockedPart(BLOCKED_OWNERS), { n: 0 });
    let churning = true;
    const churn = (async () => {
      for (let k = 0, seq = 1_000; churning; k++) {
        blocked.send({ type: 'events', seq: seq++, events: [{ type: 'wait', waitId: `cw-${k}`, owner: `c${k % 50}`, resource: `b${k % 200}` }] });
        await sleep(10);
        blocked.send({ type: 'events', seq: seq++, events: [{ type: 'cancel', waitId: `cw-${k}` }] });
        await sleep(10);
      }
    })();
    try {
      const baseLagMs = await median3(() => worstPong(pinger, windowMs));
      let viewer: LiveViewer | undefined;
      const openLagMs = await worstPong(pinger, 500, async () => {
        viewer = await LiveViewer.open(daemon.httpUrl, 'blocked');
      });
      const v = viewer as LiveViewer;
      const f0 = v.frames;
      const b0 = v.bytes;
      const lagMs = await median3(() => worstPong(pinger, windowMs));
      const framesSeen = v.frames - f0;
      await v.close();
      return { baseLagMs, lagMs, openLagMs, frames: framesSeen, frameBytes: framesSeen > 0 ? (v.bytes - b0) / framesSeen : 0, windowMs: 3 * windowMs };
    } finally {
      churning = false;
      await churn;
      await Promise.all([blocked.close(), pinger.close()]);
    }
  } finally {
    await daemon.stop();
  }
}

/** A dashboard viewer: reads every frame of /v1/live (and parses it, as the page does). */
class LiveViewer {
  frames = 0;
  bytes = 0;
  private constructor(private readonly ws: WebSocket) {}

  static async open(httpUrl: string, view: 'all' | 'blocked'): Promise<LiveViewer> {
    const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/v1/live${view === 'blocked' ? '?view=blocked' : ''}`, { perMessageDeflate: false });
    const v = new LiveViewer(ws);
    const first = new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('message', () => resolve());
    });
    ws.on('message', (data: Buffer) => {
      v.frames++;
      v.bytes += data.length;
      JSON.parse(String(data));
    });
    await first;
    return v;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }
}

export interface ViewerIngestResult {
  /** events/s, medians over the rounds */
  without: number;
  with: number;
  /** median of the per-round ratios with / without */
  ratio: number;
  /** frames the viewer got per second of ingest (median) */
  framesPerSecond: number;
  rounds: number;
}

async function ingestRun(wsUrl: string, units: number): Promise<{ events: number; seconds: number }> {
  const c = await RawClient.connect(wsUrl, 'bench-viewer-ingest');
  try {
    c.send({ type: 'events', seq: 0, events: declarations() });
    await c.sync();
    const timed = [...workload(units), ...barrier()];
    const payload = frames(timed, 100, 1);
    const aborted = c.next((f) => f.type === 'abort');
    const t0 = performance.now();
    for (const f of payload) c.send(f);
    const abort = (await aborted) as Extract<ServerFrame, { type: 'abort' }>;
    const seconds = (performance.now() - t0) / 1000;
    if (c.errors.length > 0) throw new Error(`daemon rejected ${c.errors.length} events, first: ${JSON.stringify(c.errors[0])}`);
    // as an SDK would: the victim's wait ends, then the answer; then tidy up
    const seq = payload.length + 1;
    c.send({ type: 'events', seq, events: [{ type: 'cancel', waitId: abort.waitId, reason: 'deadlock' }] });
    c.send({ type: 'abort_result', deadlock: abort.deadlock, waitId: abort.waitId, result: 'aborted' });
    c.send({ type: 'events', seq: seq + 1, events: [{ type: 'end', owner: 'barrier-x' }, { type: 'end', owner: 'barrier-y' }] });
    await c.sync();
    return { events: timed.length, seconds };
  } finally {
    await c.close();
  }
}

/** Ingest rate without and with one viewer of the same namespace, alternating round by round. */
export async function measureViewerIngest(): Promise<ViewerIngestResult> {
  const daemon = await startDaemon(['--log-level', 'warn']);
  try {
    const fps: number[] = [];
    const sized = { units: 4_000 };
    const run = (withViewer: boolean) => async () => {
      const viewer = withViewer ? await LiveViewer.open(daemon.httpUrl, 'all') : undefined;
      const before = viewer?.frames ?? 0;
      const { events, seconds } = await ingestRun(daemon.url, sized.units);
      if (viewer) {
        fps.push((viewer.frames - before) / seconds);
        await viewer.close();
      }
      const rate = events / seconds;
      if (!withViewer) sized.units = Math.max(500, Math.round((rate * SIZES.ingestTargetMs * 2) / 1000 / EVENTS_PER_UNIT));
      return rate;
    };
    const [without, withV] = (await alternate([run(false), run(true)], SIZES.ingestRounds)) as [number[], number[]];
    return {
      without: median(without),
      with: median(withV),
      ratio: median(withV.map((x, i) => x / (without[i] as number))),
      framesPerSecond: median(fps),
      rounds: SIZES.ingestRounds,
    };
  } finally {
    await daemon.stop();
  }
}
