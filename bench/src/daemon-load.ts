// 3g. The real daemon process (the CLI) under a big graph: the worst event-
// loop stall while its periodic sweep runs, while GET /v1/graph answers, and
// while a dashboard viewer watches a big blocked part; and what one viewer
// costs ingest (viewer-load.ts). Memory per live hold is 3f (daemon-memory.ts).
// The same while one client's reconnect snapshot replaces its state (in parts of
// the SDK's size, 10,000 events).
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
import { fmtCount, fmtInt, fmtMs, fmtRatio, goalRow, infoRow, type Row } from './table.js';
import { median3, Pinger, send, worstPong } from './ping-lag.js';
import { BLOCKED_OWNERS, blockedPart, measureViewerIngest, measureViewerStall, type ViewerIngestResult, type ViewerStallResult } from './viewer-load.js';

const GOALS = { stallMs: 20, viewerIngestRatio: 0.9 } as const;

/** the ring of the ring rows: t_i holds r_i and waits for r_{i+1}; t_last's wait for r0 closes it */
const RING_OWNERS = QUICK ? 10_000 : 30_000;

function ringEvents(n: number): ClientEvent[] {
  const ev: ClientEvent[] = [];
  for (let i = 0; i < n; i++) ev.push({ type: 'resource', resource: `r${i}`, kind: 'mutex', scope: 'local' }, { type: 'hold', owner: `t${i}`, resource: `r${i}` });
  for (let i = 0; i < n - 1; i++) ev.push({ type: 'wait', waitId: `w${i}`, owner: `t${i}`, resource: `r${i + 1}` });
  return ev;
}

// a ring wait's id is w<i> (primes added as it is re-made): t_i waits for r_{i+1}
const ringIndex = (waitId: string): number => Number(/^w(\d+)/.exec(waitId)?.[1]);
const victimOwner = (waitId: string): string => `t${ringIndex(waitId)}`;
const victimResource = (waitId: string): string => `r${ringIndex(waitId) + 1}`;

/** holds of the reconnecting client's snapshot (each with its own owner and mutex) */
const SNAPSHOT_HOLDS = QUICK ? 20_000 : 100_000;
/** events per snapshot part: what the SDKs send (their EVENTS_PER_FRAME; the daemon would take 10,000) */
const SNAPSHOT_PART = 2_000;

/** The snapshot's parts, serialized: `snapshot` frames, all but the last with `more`. */
function snapshotFrames(holds: number): string[] {
  const ev: ClientEvent[] = [];
  for (let i = 0; i < holds; i++) ev.push({ type: 'resource', resource: `r${i}`, kind: 'mutex', scope: 'local' }, { type: 'hold', owner: `o${i}`, resource: `r${i}` });
  const frames: string[] = [];
  for (let k = 0, seq = 1; k < ev.length; k += SNAPSHOT_PART, seq++)
    frames.push(JSON.stringify({ type: 'snapshot', seq, events: ev.slice(k, k + SNAPSHOT_PART), ...(k + SNAPSHOT_PART < ev.length ? { more: true } : {}) }));
  return frames;
}

export interface DaemonLoadResult {
  holds: number;
  sweepIntervalMs: number;
  /** longest ping → pong, ms: idle daemon, during sweeps, during one GET /v1/graph */
  idleLagMs: number;
  sweepLagMs: number;
  graphLagMs: number;
  graphMs: number;
  graphBytes: number;
  /** blocked owners added for the second sweep row and the viewer rows */
  blockedOwners: number;
  /** longest ping → pong during sweeps, with the blocked part added */
  blockedSweepLagMs: number;
  /** owners of the ring closed for the ring rows */
  ringOwners: number;
  /** longest ping → pong while that ring closes (its search in slices), and the time to its abort */
  ringLagMs: number;
  ringCloseMs: number;
  /** holds of the reconnect snapshot, the longest ping → pong while it is applied, and its time */
  snapshotHolds: number;
  snapshotLagMs: number;
  snapshotMs: number;
  viewer: ViewerStallResult;
  viewerIngest: ViewerIngestResult;
}

const rss = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
};

export async function measureDaemonLoad(): Promise<DaemonLoadResult> {
  const perClient = QUICK ? 20_000 : 50_000;
  const sweepIntervalMs = 1_000;
  const daemon = await startDaemon(['--log-level', 'warn', '--sweep-interval-ms', String(sweepIntervalMs)]);
  const pid = daemon.proc.pid as number;
  try {
    const own = await RawClient.connect(daemon.url, 'bench-load-own');
    const shared = await RawClient.connect(daemon.url, 'bench-load-shared');
    const pinger = await Pinger.start(daemon.url);
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

    // the same sweeps with a big blocked part added: 20k owners queued on 200 held mutexes
    const blocked = await RawClient.connect(daemon.url, 'bench-blocked');
    await send(blocked, blockedPart(BLOCKED_OWNERS), { n: 0 });
    const blockedSweepLagMs = await median3(() => worstPong(pinger, sweepIntervalMs * 2.5));
    await blocked.close();
    await own.close();
    await shared.close();

    // a ring of RING_OWNERS owners closing, three times: its search runs in slices (namespace.ts)
    progress(`daemon load: a ${fmtCount(RING_OWNERS)}-member ring closing`);
    const ring = await RawClient.connect(daemon.url, 'bench-ring');
    const ringSeq = { n: 0 };
    await send(ring, ringEvents(RING_OWNERS), ringSeq);
    let ringCloseMs = 0;
    const closes: number[] = [];
    const ringLagMs = await median3(() =>
      worstPong(pinger, 300, async () => {
        const t = performance.now();
        const abort = ring.next((f) => f.type === 'abort');
        const closing = `close-${closes.length}`;
        ring.send({ type: 'events', seq: ringSeq.n++, events: [{ type: 'wait', waitId: closing, owner: `t${RING_OWNERS - 1}`, resource: 'r0' }] });
        const a = await abort;
        closes.push(performance.now() - t);
        // the victim gives up its wait; the ring is open again, closed by the next round's wait
        const victim = a.type === 'abort' ? a.waitId : closing;
        const events: ClientEvent[] = [{ type: 'cancel', waitId: victim }];
        if (victim !== closing) events.push({ type: 'cancel', waitId: closing }, { type: 'wait', waitId: `${victim}'`, owner: victimOwner(victim), resource: victimResource(victim) });
        await send(ring, events, ringSeq);
      }),
    );
    ringCloseMs = closes.sort((a, b) => a - b)[1] as number;
    await ring.close();

    // one client's reconnect snapshot, three times (each replaces the state the last one left)
    progress(`daemon load: a reconnect snapshot of ${fmtCount(SNAPSHOT_HOLDS)} holds`);
    const reconnecting = await RawClient.connect(daemon.url, 'bench-snapshot');
    const parts = snapshotFrames(SNAPSHOT_HOLDS);
    const snapshotTimes: number[] = [];
    const snapshotLagMs = await median3(() =>
      worstPong(pinger, 300, async () => {
        // a frame behind the snapshot is held until the snapshot was applied (in slices), and its
        // release of nothing is answered NOT_HELD then: the clock stops at that answer
        const marker = parts.length + 1;
        const applied = reconnecting.next((f) => f.type === 'error' && f.ref?.seq === marker);
        const t = performance.now();
        for (const f of parts) reconnecting.send(f);
        reconnecting.send({ type: 'events', seq: marker, events: [{ type: 'release', owner: 'nobody', resource: 'r0' }] });
        await applied;
        snapshotTimes.push(performance.now() - t);
        const rejected = reconnecting.errors.filter((f) => !(f.type === 'error' && f.ref?.seq === marker));
        if (rejected.length > 0) throw new Error(`snapshot rejected: ${JSON.stringify(rejected[0])}`);
      }),
    );
    const snapshotMs = snapshotTimes.sort((a, b) => a - b)[1] as number;
    await Promise.all([pinger.close(), reconnecting.close()]);
    progress('daemon load: one dashboard viewer on a big blocked part');
    const viewer = await measureViewerStall();
    progress('daemon load: ingest with and without one dashboard viewer');
    const viewerIngest = await measureViewerIngest();
    return {
      holds: 2 * perClient,
      sweepIntervalMs,
      idleLagMs,
      sweepLagMs,
      graphLagMs,
      graphMs,
      graphBytes,
      blockedOwners: BLOCKED_OWNERS,
      blockedSweepLagMs,
      ringOwners: RING_OWNERS,
      ringLagMs,
      ringCloseMs,
      snapshotHolds: SNAPSHOT_HOLDS,
      snapshotLagMs,
      snapshotMs,
      viewer,
      viewerIngest,
    };
  } finally {
    await daemon.stop();
  }
}

export function daemonLoadRows(r: DaemonLoadResult): Row[] {
  const s = '3g. daemon process: stalls';
  const stall = (figure: string, ms: number) => goalRow(s, figure, fmtMs(ms), `≤ ${GOALS.stallMs} ms`, ms <= GOALS.stallMs);
  const vi = r.viewerIngest;
  return [
    infoRow(s, 'longest ping → pong, idle daemon (machine noise)', fmtMs(r.idleLagMs)),
    stall(`longest ping → pong during sweeps (${fmtCount(r.holds)} holds, every ${r.sweepIntervalMs} ms)`, r.sweepLagMs),
    stall(`longest ping → pong during GET /v1/graph (default limit; ${fmtMs(r.graphMs)}, ${fmtInt(r.graphBytes / 1024)} KiB)`, r.graphLagMs),
    stall(`the same sweeps with ${fmtCount(r.blockedOwners)} blocked owners added (on 200 held mutexes)`, r.blockedSweepLagMs),
    stall(`a ${fmtCount(r.ringOwners)}-member ring closing (its search in slices; wait → abort ${fmtMs(r.ringCloseMs)})`, r.ringLagMs),
    stall(`one client's reconnect snapshot, ${fmtCount(r.snapshotHolds)} holds in parts of ${fmtCount(SNAPSHOT_PART)} events (${fmtMs(r.snapshotMs)} to applied)`, r.snapshotLagMs),
    infoRow(s, `longest ping → pong, ${fmtCount(r.blockedOwners)} blocked owners, a wait comes and goes every 20 ms, no viewer, sweep off`, fmtMs(r.viewer.baseLagMs)),
    stall(
      `the same with one /v1/live?view=blocked viewer (${fmtCount(r.viewer.frames)} frames of ${fmtInt(r.viewer.frameBytes / 1024)} KiB in ${fmtInt(r.viewer.windowMs / 1000)} s)`,
      r.viewer.lagMs,
    ),
    stall('the same while that viewer opens (its first frame: the first layout)', r.viewer.openLagMs),
    infoRow(s, `ingest, 100 events/frame: without vs with one /v1/live viewer (${fmtInt(vi.framesPerSecond)} frames/s to it)`, `${fmtInt(vi.without)} vs ${fmtInt(vi.with)} events/s`),
    goalRow(s, 'ingest with one viewer / without', fmtRatio(vi.ratio), `≥ ${GOALS.viewerIngestRatio}×`, vi.ratio >= GOALS.viewerIngestRatio),
  ];
}
