// What one /v1/live frame carries: the graph (graphology's serialized form,
// with x/y from the stable layout), the current cycles and the history.
import type { DeadlockReport } from '@deadlockd/proto';
import { signatureOf, type CycleStatus, type DeadlockGroup, type HistoryEntry } from '../history.js';
import type { Namespace } from '../namespace.js';
import type { GraphStats } from '../engine/types.js';
import { captureGraphSteps, type EdgeAttrs, type GraphCapture, type NodeAttrs } from '../engine/export.js';
import type { Steps } from '../engine/steps.js';
import type { LayoutInput, Point } from './layout.js';
import { slicedBody, type Section } from '../sliced-body.js';

export type LiveView = 'all' | 'blocked';

/** Above this many nodes the whole graph is not drawn: only its blocked part is, and at most this many of its nodes (--max-drawn-nodes). */
const MAX_DRAWN_NODES = 1_000;
/** History entries sent to the page (the REST history has them all). */
const MAX_HISTORY_SENT = 100;

export interface LiveNode {
  key: string;
  attributes: NodeAttrs & { x: number; y: number };
}

interface LiveEdge {
  key: string;
  source: string;
  target: string;
  attributes: EdgeAttrs;
}


interface LiveCycle {
  id: string;
  detectedAt: number;
  /** confirming: asking the members' clients before acting; aborting: victim told; unresolvable: nobody can be aborted */
  status: CycleStatus;
  /** the same for every recurrence of this deadlock pattern (history entries carry it too) */
  signature: string;
  report: DeadlockReport;
}

export interface LiveBody {
  namespace: string;
  view: LiveView;
  /** true when the whole graph was too big and only its blocked part is drawn */
  truncated: boolean;
  /** true when even the drawn part had more than `maxDrawnNodes` nodes: only that many are drawn */
  capped: boolean;
  maxDrawnNodes: number;
  stats: GraphStats;
  graph: { nodes: LiveNode[]; edges: LiveEdge[] };
  cycles: LiveCycle[];
  history: HistoryEntry[];
  historyTotal: number;
  /** recurring deadlocks by signature, most recently seen first (counted also past the entries sent): the page's history cards */
  historyGroups: DeadlockGroup[];
}

export interface LiveFrame extends LiveBody {
  type: 'snapshot';
  /** increases per frame of one feed */
  seq: number;
  sentAt: number;
}

/**
 * A frame's content before the layout, as of one instant: the graph as a
 * detached capture, everything else already serialized, so the frame shows
 * that instant even though its layout is computed later, on the layout
 * thread (layout-thread.ts).
 */
export interface LiveCapture {
  /** `{"namespace":…,"stats":{…}` — the body's fields before `graph` */
  head: string;
  /** `"cycles":[…],…}` — the fields after it */
  tail: string;
  graph: GraphCapture;
}

/**
 * Captures a frame's content through the namespace's read (namespace.ts): in slices of
 * --search-slice-ms while the namespace holds its changes, so a capture is one instant and
 * still no long turn of the event loop. (In one turn it was 4-9 ms of a viewer's first frame,
 * run before the code was warm: most of the stall a viewer's opening caused.)
 */
export function captureLive(ns: Namespace, view: LiveView, maxDrawnNodes = MAX_DRAWN_NODES): Promise<LiveCapture> {
  return ns.read(captureLiveSteps(ns, view, maxDrawnNodes));
}

function* captureLiveSteps(ns: Namespace, view: LiveView, maxDrawnNodes: number): Steps<LiveCapture> {
  const stats = ns.graphStats();
  const truncated = view === 'all' && stats.owners + stats.resources > maxDrawnNodes;
  // the layout grows faster than linearly: never lay out more than the cap
  const g = yield* captureGraphSteps(ns.engine, { blockedOnly: view === 'blocked' || truncated, maxNodes: maxDrawnNodes });
  // the rest in the capture's last slice, so it is of the same instant
  const all = ns.history.list();
  const cycles: LiveCycle[] = ns.current().map(({ deadlock: d, status }) => ({ id: d.id, detectedAt: d.detectedAt, status, signature: signatureOf(d.report), report: d.report }));
  cycles.sort((a, b) => b.detectedAt - a.detectedAt || a.id.localeCompare(b.id));
  const head: Omit<LiveBody, 'graph' | 'cycles' | 'history' | 'historyTotal' | 'historyGroups'> = { namespace: ns.name, view, truncated, capped: g.truncated, maxDrawnNodes, stats };
  const tail: Pick<LiveBody, 'cycles' | 'history' | 'historyTotal' | 'historyGroups'> = {
    cycles,
    history: all.slice(0, MAX_HISTORY_SENT),
    historyTotal: all.length,
    historyGroups: ns.history.groups({ limit: MAX_HISTORY_SENT }).groups,
  };
  return {
    head: JSON.stringify(head).slice(0, -1),
    tail: JSON.stringify(tail).slice(1),
    graph: g,
  };
}

/** What the layout needs of a capture. */
export function layoutInput(c: LiveCapture): LayoutInput {
  const g = c.graph;
  return { nodes: Array.from({ length: g.nodeCount }, (_, i) => g.nodeKey(i)), links: Array.from({ length: g.edgeCount }, (_, i) => g.edgeEnds(i)) };
}

const coordinate = (v: number): string => (Number.isFinite(v) ? String(v) : '0');

/**
 * The frame's body (a LiveBody as JSON): the capture with each node at its
 * position. Written as text, node by node (the capture's nodeJson with x and y
 * added to its attributes), not built as objects and stringified: at the
 * drawing cap that halves the time it takes. Even so a big blocked part is
 * half a megabyte, ~20 ms of rendering: it is rendered in slices with a poll
 * of the event loop between them (sliced-body.ts), which the capture, being
 * detached, allows. The capture's edge keys are stable (kind, source,
 * target), so two captures of the same graph serialize the same and an
 * unchanged graph sends no frame.
 */
export async function liveBodyJson(c: LiveCapture, positions: ReadonlyMap<string, Point>): Promise<string> {
  const g = c.graph;
  const nodes: Section = {
    count: g.nodeCount,
    sep: ',',
    renderAt: (i) => {
      const p = positions.get(g.nodeKey(i));
      // `{"key":…,"attributes":{…}}`: x and y go last in the attributes
      return `${g.nodeJson(i).slice(0, -2)},"x":${coordinate(p?.x ?? 0)},"y":${coordinate(p?.y ?? 0)}}}`;
    },
  };
  const edges: Section = { count: g.edgeCount, sep: ',', renderAt: (i) => g.edgeJson(i) };
  let body = '';
  for await (const part of slicedBody([`${c.head},"graph":{"nodes":[`, nodes, '],"edges":[', edges, `]},${c.tail}`])) body += part;
  return body;
}
