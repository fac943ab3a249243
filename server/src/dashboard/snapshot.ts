// What one /v1/live frame carries: the graph (graphology's serialized form,
// with x/y from the stable layout), the current cycles and the history.
import type { DeadlockReport } from '@deadlockd/proto';
import { signatureOf, type CycleStatus, type DeadlockGroup, type HistoryEntry } from '../history.js';
import type { Namespace } from '../namespace.js';
import type { GraphStats } from '../engine/types.js';
import { exportGraph, type EdgeAttrs, type NodeAttrs } from '../engine/export.js';
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

export function buildLiveBody(ns: Namespace, view: LiveView, layout: StableLayout, maxDrawnNodes = MAX_DRAWN_NODES): LiveBody {
  const stats = ns.graphStats();
  const truncated = view === 'all' && stats.owners + stats.resources > maxDrawnNodes;
  // the layout runs on the event loop and grows faster than linearly: never lay out more than the cap
  const g = exportGraph(ns.engine, { blockedOnly: view === 'blocked' || truncated, maxNodes: maxDrawnNodes });
  const capped = g.getAttribute('truncated') === true;

  const links: Array<[string, string]> = [];
  g.forEachEdge((_e, _a, s, t) => links.push([s, t]));
  const positions = layout.update({ nodes: g.nodes(), links });

  const nodes: LiveNode[] = [];
  g.forEachNode((key, a) => {
    const p = positions.get(key) ?? { x: 0, y: 0 };
    nodes.push({ key, attributes: { ...a, x: p.x, y: p.y } });
  });
  // graphology's generated edge keys differ per export; ours are stable so
  // two exports of the same graph serialize the same.
  const seen = new Map<string, number>();
  const edges: LiveEdge[] = [];
  g.forEachEdge((_e, a, source, target) => {
    const base = `${a.kind}:${source}->${target}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    edges.push({ key: n === 0 ? base : `${base}#${n}`, source, target, attributes: a });
  });

  const all = ns.history.list();
  const cycles: LiveCycle[] = ns.current().map(({ deadlock: d, status }) => ({ id: d.id, detectedAt: d.detectedAt, status, signature: signatureOf(d.report), report: d.report }));
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
    historyGroups: ns.history.groups({ limit: MAX_HISTORY_SENT }).groups,
  };
}
