// Turns each measurement's result into table rows (figure, goal, PASS/MISS).
import type { HotLockResult } from './engine-hot-lock.js';
import type { HoldsScalingResult } from './engine-holds.js';
import type { MemoryResult } from './engine-memory.js';
import type { EngineVsNaiveResult } from './engine-vs-naive.js';
import type { IngestResult } from './ingest.js';
import type { QueueCostResult } from './queue-cost.js';
import type { DaemonMemoryResult } from './daemon-memory.js';
import type { LatencyResult } from './latency.js';
import { fmtCount, fmtInt, fmtMs, fmtNs, fmtRatio, goalRow, infoRow, type Row } from './table.js';

const GOALS = {
  floorRatio: 0.6,
  queueRatio: 2,
  latencyOneP99Ms: 5,
  latencyTwoP99Ms: 8,
  hotLockRatio: 2,
  holdsRatio: 2,
  naiveSpeedup: 100,
  bytesPerHold: 200,
  daemonBytesPerHold: 250,
} as const;

export function ingestRows(r: IngestResult): Row[] {
  const s = '1. ingest over WebSocket';
  const rows: Row[] = [];
  for (const c of r.cases) {
    const shape = `${c.eventsPerFrame} event${c.eventsPerFrame === 1 ? '' : 's'}/frame, ${c.connections} conn`;
    rows.push(infoRow(s, `${shape}: daemon vs floor (bare ws + JSON.parse)`, `${fmtInt(c.daemon.eventsPerSecond)} vs ${fmtInt(c.floor.eventsPerSecond)} events/s`));
    const figure = `${shape}: daemon / floor`;
    rows.push(
      c.eventsPerFrame >= 100
        ? goalRow(s, figure, fmtRatio(c.ratio), `≥ ${GOALS.floorRatio}×`, c.ratio >= GOALS.floorRatio)
        : infoRow(s, figure, fmtRatio(c.ratio)),
    );
    const [dc, fc] = [c.daemon.cpuNsPerEvent, c.floor.cpuNsPerEvent];
    if (c.cpuRatio !== undefined && dc !== undefined && fc !== undefined)
      rows.push(infoRow(s, `${shape}: main-thread CPU per event, daemon vs floor`, `${fmtNs(dc)} vs ${fmtNs(fc)} (floor / daemon ${fmtRatio(c.cpuRatio)})`));
  }
  return rows;
}

export function latencyRows(r: LatencyResult): Row[] {
  const s = '2. cycle → DeadlockError (SDK)';
  const side = (x: LatencyResult['sameClient']) => `p50 ${fmtMs(x.p50Ms)}, p99 ${fmtMs(x.p99Ms)} (n=${x.reps})`;
  return [
    goalRow(s, 'one client, two tasks (SDK defaults), p99', side(r.sameClient), `p99 ≤ ${GOALS.latencyOneP99Ms} ms`, r.sameClient.p99Ms <= GOALS.latencyOneP99Ms),
    infoRow(s, 'same, reportAfterMs 0 AND flushIntervalMs 0', side(r.sameClientImmediate)),
    goalRow(s, 'two SDK clients, each its own process (confirm round), p99', side(r.twoProcesses), `p99 ≤ ${GOALS.latencyTwoP99Ms} ms`, r.twoProcesses.p99Ms <= GOALS.latencyTwoP99Ms),
    infoRow(s, 'two SDK clients in the bench\'s ONE process (confirm round)', side(r.twoClients)),
  ];
}

export function hotLockRows(r: HotLockResult): Row[] {
  const s = '3a. engine: hot mutex';
  const [a, b] = r.waiters;
  return [
    infoRow(s, `per wait, ${fmtCount(a)} vs ${fmtCount(b)} queued`, `${fmtNs(r.nsPerWait[0])} vs ${fmtNs(r.nsPerWait[1])}`),
    goalRow(s, `cost ratio ${fmtCount(b)} / ${fmtCount(a)}`, fmtRatio(r.ratio), `≤ ${GOALS.hotLockRatio}×`, r.ratio <= GOALS.hotLockRatio),
    infoRow(
      s,
      `per wait, ${fmtCount(r.batch.waits[0])} vs ${fmtCount(r.batch.waits[1])} waits in ONE batch`,
      `${fmtNs(r.batch.nsPerWait[0])} vs ${fmtNs(r.batch.nsPerWait[1])}`,
    ),
    goalRow(
      s,
      `batch cost ratio ${fmtCount(r.batch.waits[1])} / ${fmtCount(r.batch.waits[0])}`,
      fmtRatio(r.batch.ratio),
      `≤ ${GOALS.hotLockRatio}×`,
      r.batch.ratio <= GOALS.hotLockRatio,
    ),
  ];
}

export function holdsRows(r: HoldsScalingResult): Row[] {
  const s = '3b. engine: live holds';
  const [a, b] = r.holds;
  return [
    infoRow(s, `per wait on random mutexes held INSIDE the big graph, waiter holding a mutex, by handle, ${fmtCount(a)} vs ${fmtCount(b)} holds`, `${fmtNs(r.randomNsPerWait[0])} vs ${fmtNs(r.randomNsPerWait[1])}`),
    goalRow(s, `inside the graph: cost ratio ${fmtCount(b)} / ${fmtCount(a)}`, fmtRatio(r.randomRatio), `≤ ${GOALS.holdsRatio}×`, r.randomRatio <= GOALS.holdsRatio),
    infoRow(s, `the same naming the mutex by name, not handle (a client or daemon without handles)`, `${fmtNs(r.byNameNsPerWait[0])} vs ${fmtNs(r.byNameNsPerWait[1])} (${fmtRatio(r.byNameRatio)})`),
    infoRow(s, `the same by waiters holding nothing (no cycle can pass through them)`, `${fmtNs(r.emptyHandedNsPerWait[0])} vs ${fmtNs(r.emptyHandedNsPerWait[1])} (${fmtRatio(r.emptyHandedRatio)})`),
    infoRow(s, `per wait on 100 mutexes of another client, beside ${fmtCount(a)} vs ${fmtCount(b)} holds`, `${fmtNs(r.nsPerWait[0])} vs ${fmtNs(r.nsPerWait[1])}`),
    infoRow(s, `beside the graph: cost ratio ${fmtCount(b)} / ${fmtCount(a)}`, fmtRatio(r.ratio)),
    infoRow(s, `floor: ONE Map.get by name (no engine), Maps of ${fmtCount(a)} vs ${fmtCount(b)} keys, chained`, `${fmtNs(r.floor.nsPerLookup[0])} vs ${fmtNs(r.floor.nsPerLookup[1])} (${fmtRatio(r.floor.ratio)})`),
    ...floorRows(s, r),
  ];
}

/**
 * What the goal row's ratio can be on this machine: a wait must read the mutex it waits on, an
 * object somewhere in the big graph, so even an engine that touched nothing else would pay one
 * random memory access there that the small graph serves from cache. The floor's one Map.get in
 * the big Map is about that access (and its TLB miss), so (small + it) / small is the best ratio
 * such an engine gets in this run, and (large - small) / it is how many of those the big graph
 * costs this engine per wait.
 */
function floorRows(s: string, r: HoldsScalingResult): Row[] {
  const [small, large] = r.randomNsPerWait;
  const access = r.floor.nsPerLookup[1];
  if (!(access > 0)) return [];
  return [
    infoRow(s, 'inside the graph: what the big graph adds per wait, in big-Map lookups of the floor', `${fmtNs(large - small)} ≈ ${((large - small) / access).toFixed(1)} lookups`),
    infoRow(s, 'inside the graph: the best ratio with ONE such access per wait, (small wait + lookup) / small wait', fmtRatio((small + access) / small)),
  ];
}

export function naiveRows(r: EngineVsNaiveResult): Row[] {
  const s = '3c. engine vs whole-graph SCC per event';
  const rows: Row[] = [
    infoRow(s, `per wait, ${fmtCount(r.holds)} holds: engine vs whole-graph SCC (graphology) after every event`, `${fmtNs(r.engineNsPerWait)} vs ${r.naiveError ? r.naiveError : fmtNs(r.naiveNsPerWait)}`),
    goalRow(s, 'whole-graph SCC per event / engine', Number.isFinite(r.ratio) ? fmtRatio(r.ratio) : 'n/a', `≥ ${GOALS.naiveSpeedup}×`, r.ratio >= GOALS.naiveSpeedup),
  ];
  const d = r.deepChain;
  const naive = d.naive.threw ? (d.naive.error ?? 'threw').replace(/: Maximum call stack size exceeded/, ' (stack overflow)') : 'no error';
  rows.push(infoRow(s, `graphology's recursive SCC on a ${fmtCount(d.depth)}-deep wait chain`, naive));
  const e = d.engine;
  const engineOk = !e.sweepThrew && e.deadlockMembers === d.depth;
  rows.push(
    goalRow(
      s,
      `engine on the same chain`,
      e.sweepThrew ? (e.error ?? 'threw') : `cycle of ${fmtCount(e.deadlockMembers)} in ${fmtMs(e.closeMs)}, sweep ${fmtMs(e.sweepMs)}`,
      'found, no crash',
      engineOk,
    ),
  );
  return rows;
}

export function memoryRows(r: MemoryResult): Row[] {
  const s = '3d. engine: memory';
  return [
    goalRow(s, `per live hold with a record of its own (${fmtCount(r.holds)} owners' second holds, on existing owners and mutexes)`, `${fmtInt(r.bytesPerHoldOnly)} B`, `≤ ${GOALS.bytesPerHold} B`, r.bytesPerHoldOnly <= GOALS.bytesPerHold),
    ...(r.bytesPerFirstHold === undefined ? [] : [infoRow(s, "an owner's first hold (kept in the owner: its fields count with the owner)", `${fmtInt(r.bytesPerFirstHold)} B`)]),
    infoRow(s, 'a hold with its own new owner and mutex (worst case)', `${fmtInt(r.bytesPerHold)} B`),
    infoRow(s, 'of which owner / mutex / first hold', `${fmtInt(r.bytesPerOwner)} / ${fmtInt(r.bytesPerResource)} / ${fmtInt(r.bytesPerFirstHold ?? r.bytesPerHoldOnly)} B`),
  ];
}

export function queueCostRows(r: QueueCostResult): Row[] {
  const s = '3e. per frame vs queue length (socket)';
  const [a, b] = r.queued;
  const label = {
    waits: '2 waits, then 2 cancels (2 frames)',
    lateHold: 'late hold + release',
    capacity: 'capacity down + up',
    grant: 'wait + grant to a blocked owner, then release (2 frames)',
  } as const;
  const rows: Row[] = [];
  for (const k of Object.keys(label) as (keyof typeof label)[]) {
    const [x, y] = r.usPerFrame[k];
    rows.push(infoRow(s, `${label[k]}: µs/frame, ${fmtCount(a)} vs ${fmtCount(b)} queued`, `${x.toFixed(1)} vs ${y.toFixed(1)} µs`));
    rows.push(goalRow(s, `${label[k]}: ${fmtCount(b)} / ${fmtCount(a)}`, fmtRatio(r.ratio[k]), `≤ ${GOALS.queueRatio}×`, r.ratio[k] <= GOALS.queueRatio));
  }
  return rows;
}

export function daemonMemoryRows(r: DaemonMemoryResult): Row[] {
  const s = '3f. daemon process: memory per live hold';
  const worst = Math.max(r.own.rssBytesPerHold, r.shared.rssBytesPerHold);
  const heap = (x: DaemonMemoryResult['own']) => `RSS ${fmtInt(x.rssBytesPerHold)} B (V8 heap ${fmtInt(x.heapBytesPerHold)} B)`;
  return [
    infoRow(s, `${fmtCount(r.own.holds)} holds, each with its own new owner and mutex: Δ after GC / holds`, heap(r.own)),
    infoRow(s, `${fmtCount(r.shared.holds)} holds on existing owners × semaphores: Δ after GC / holds`, heap(r.shared)),
    goalRow(s, 'RSS / live hold, worst of the two', `${fmtInt(worst)} B`, `≤ ${GOALS.daemonBytesPerHold} B`, worst <= GOALS.daemonBytesPerHold),
  ];
}
