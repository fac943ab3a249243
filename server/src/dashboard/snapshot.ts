// What one /v1/live frame carries: the graph (graphology's serialized form,
// with x/y from the stable layout), the current cycles and the history.
import type { DeadlockReport } from '@deadlockd/proto';
import type { CycleStatus, HistoryEntry } from '../history.js';
import type { Namespace } from '../namespace.js';
import type { GraphStats } from '../engine/types.js';
import { captureGraph, type EdgeAttrs, type NodeAttrs } from '../engine/export.js';
import type { StableLayout } from './layout.js';

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
}

export interface LiveFrame extends LiveBody {
  type: 'snapshot';
  /** increases per frame of one feed */
  seq: number;
  sentAt: number;
}

export function buildLiveBody(ns: Namespace, view: LiveView, layout: StableLayout, maxDrawnNodes = MAX_DRAWN_NODES): LiveBody {
  const stats = ns.graphStats();
  const truncated = view === 'all' && stats.owners + stats.resources > maxDrawnNodes;
  // the layout runs on the event loop and grows faster than linearly: never lay out more than the cap
  const g = captureGraph(ns.engine, { blockedOnly: view === 'blocked' || truncated, maxNodes: maxDrawnNodes });
  const capped = g.truncated;

  const captured = g.nodes();
  const edges: LiveEdge[] = g.edges();
  const positions = layout.update({ nodes: captured.map((n) => n.key), links: edges.map((e) => [e.source, e.target] as const) });
  const nodes: LiveNode[] = captured.map(({ key, attributes: a }) => {
    const p = positions.get(key) ?? { x: 0, y: 0 };
    return { key, attributes: { ...a, x: p.x, y: p.y } };
  });
  // the capture's edge keys are stable (kind, source, target), so two captures of the same graph serialize the same

  const all = ns.history.list();
  const cycles: LiveCycle[] = ns.current().map(({ deadlock: d, status }) => ({ id: d.id, detectedAt: d.detectedAt, status, report: d.report }));
  cycles.sort((a, b) => b.detectedAt - a.detectedAt || a.id.localeCompare(b.id));

  return {
    namespace: ns.name,
    view,
    truncated,
    capped,
    maxDrawnNodes,
    stats,
    graph: { nodes, edges },
    cycles,
    history: all.slice(0, MAX_HISTORY_SENT),
    historyTotal: all.length,
  };
}
