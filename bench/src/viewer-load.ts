// 3f (dashboard part). What one dashboard viewer costs the daemon:
// - ingest with and without one live viewer (`/v1/live`, the page's feed) of
//   the namespace being written to, side by side in alternating rounds: the
//   ingest workload of row 1 (100 events/frame, one connection) on a fresh
//   daemon, the viewer reading every frame as a browser would;
// - the worst event-loop stall while a viewer watches a big blocked part
//   (measured by daemon-load.ts with the ping loop, this file opens the viewer).
import { WebSocket } from 'ws';
import type { ServerFrame } from '@deadlockd/proto';
import { startDaemon } from '@deadlockd/e2e/harness';
import { barrier, declarations, EVENTS_PER_UNIT, frames, workload } from './ingest-workload.js';
import { SIZES } from './mode.js';
import { RawClient } from './raw-client.js';
import { alternate, median } from './stats.js';

/** A dashboard viewer: reads every frame of /v1/live (and parses it, as the page does). */
export class LiveViewer {
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
