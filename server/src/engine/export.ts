// The graph as users see it: a graphology graph (the model REST, DOT and the
// dashboard's sigma.js share), built on request from the engine's compact
// indexes. Built per request, never on the hot path.
//
// Like SQL Server's deadlock graph it is bipartite: owner nodes and resource
// nodes; an owner → resource edge is a wait, a resource → owner edge a hold.
// Deadlock members carry the ids of the active deadlocks they are in.
import graphology from 'graphology';
import type { LockMode } from '@deadlockd/proto';
import type { Engine } from './engine.js';
import { EXCLUSIVE, modeOf, type Owner, type Resource, type Wait } from './model.js';

// graphology ships CommonJS; its default export is the Graph class namespace.
const { MultiDirectedGraph } = graphology as unknown as { MultiDirectedGraph: typeof import('graphology').MultiDirectedGraph };

export interface OwnerNode {
  kind: 'owner';
  label: string;
  owner: string;
  client: string;
  service: string;
  priority: number;
  abortable: boolean;
  startedAt: number;
  waiting: boolean;
  /** ids of active deadlocks this owner is a member of */
  deadlocks: string[];
}

export interface ResourceNode {
  kind: 'resource';
  label: string;
  resource: string;
  type: 'mutex' | 'rwlock' | 'semaphore' | 'task';
  scope: 'local' | 'global';
  /** units; null where capacity is "all" (rwlock, task end) */
  capacity: number | null;
  /** units held (for rwlocks: the number of shared holders, or 1 when held exclusive) */
  held: number;
  queued: number;
  deadlocks: string[];
}

export interface WaitEdge {
  kind: 'waits';
  waitId: string;
  mode?: LockMode;
  units?: number;
  since: number;
  aborting: boolean;
  stack?: string;
}

export interface HoldEdge {
  kind: 'holds';
  mode?: LockMode;
  units?: number;
  since: number;
}

export type NodeAttrs = OwnerNode | ResourceNode;
export type EdgeAttrs = WaitEdge | HoldEdge;
export type ExportedGraph = import('graphology').MultiDirectedGraph<NodeAttrs, EdgeAttrs>;

export const ownerNodeKey = (o: Owner): string => `o:${o.key}`;
export const resourceNodeKey = (r: Resource): string => `r:${r.key}`;

function shape(r: Resource, units: number): { mode?: LockMode; units?: number } {
  if (r.kind === 'rwlock') return { mode: modeOf(r, units) as LockMode };
  if (r.kind === 'semaphore') return { units };
  return {};
}

function waitShape(w: Wait): { mode?: LockMode; units?: number } {
  if (w.resource.kind === 'rwlock') return { mode: w.mode ?? (w.units >= EXCLUSIVE ? 'exclusive' : 'shared') };
  return shape(w.resource, w.units);
}

function deadlocksOfOwner(o: Owner): string[] {
  const ids = new Set<string>();
  for (const w of o.waits) for (const id of w.deadlocks ?? []) ids.add(id);
  return [...ids];
}

function ownerNode(o: Owner): OwnerNode {
  return {
    kind: 'owner',
    label: o.name,
    owner: o.id,
    client: o.client.info.id,
    service: o.client.info.service,
    priority: o.priority,
    abortable: o.abortable,
    startedAt: o.startedAt,
    waiting: o.waits.size > 0,
    deadlocks: deadlocksOfOwner(o),
  };
}

function resourceNode(r: Resource): ResourceNode {
  const ids = new Set<string>();
  for (const w of r.queue) for (const id of w.deadlocks ?? []) ids.add(id);
  const all = r.kind === 'rwlock' || r.kind === 'task';
  return {
    kind: 'resource',
    label: r.label,
    resource: r.key,
    type: r.kind,
    scope: r.global ? 'global' : 'local',
    capacity: all ? null : r.capacity,
    held: r.kind === 'rwlock' ? (r.held >= EXCLUSIVE ? 1 : r.held) : r.kind === 'task' ? 1 : r.held,
    queued: r.queue.size,
    deadlocks: [...ids],
  };
}

export interface ExportOptions {
  blockedOnly?: boolean;
  /**
   * At most this many nodes (the rest of the graph is left out, and the graph's
   * `truncated` attribute says so). Building and serializing 100,000 nodes
   * takes the daemon's only thread for seconds; a bounded export does not.
   */
  maxNodes?: number;
}

/**
 * The live graph. With `blockedOnly`, just the blocked part: owners that
 * wait, what they wait for, and who holds that. Graph attributes:
 * `truncated` (maxNodes was reached), `maxNodes`.
 */
export function exportGraph(engine: Engine, opts: ExportOptions = {}): ExportedGraph {
  const g: ExportedGraph = new MultiDirectedGraph<NodeAttrs, EdgeAttrs>();
  const maxNodes = opts.maxNodes ?? Number.MAX_SAFE_INTEGER;
  let truncated = false;
  const room = (): boolean => {
    if (g.order < maxNodes) return true;
    truncated = true;
    return false;
  };
  // Each node's attributes are built once (a resource's walk its queue), on first sight.
  const addOwner = (o: Owner) => {
    const key = ownerNodeKey(o);
    if (!g.hasNode(key) && room()) g.addNode(key, ownerNode(o));
  };
  const taskEnds: Resource[] = [];
  /** false when the resource was already in the graph (or there is no room for it) */
  const addResource = (r: Resource): boolean => {
    const key = resourceNodeKey(r);
    if (g.hasNode(key) || !room()) return false;
    g.addNode(key, resourceNode(r));
    if (r.taskOf) taskEnds.push(r);
    return true;
  };
  // an edge only between nodes that made it in
  const both = (a: string, b: string): boolean => g.hasNode(a) && g.hasNode(b);
  const addHold = (o: Owner, r: Resource) => {
    const h = o.holdOn(r);
    if (!h || r.kind === 'task' || !both(resourceNodeKey(r), ownerNodeKey(o))) return;
    g.addEdge(resourceNodeKey(r), ownerNodeKey(o), { kind: 'holds', ...shape(r, h.units), since: h.since });
  };
  const addWait = (w: Wait) => {
    if (!both(ownerNodeKey(w.owner), resourceNodeKey(w.resource))) return;
    g.addEdge(ownerNodeKey(w.owner), resourceNodeKey(w.resource), {
      kind: 'waits',
      waitId: w.id,
      ...waitShape(w),
      since: w.since,
      aborting: w.aborting,
      ...(w.stack ? { stack: w.stack } : {}),
    });
  };

  clients: for (const c of engine.clients.values()) {
    if (truncated) break clients;
    if (opts.blockedOnly) {
      // only waits matter here: each one, its owner, and (once per resource) who holds that
      for (const w of c.waits.values()) {
        if (truncated) break clients;
        addOwner(w.owner);
        const fresh = addResource(w.resource);
        addWait(w);
        if (!fresh) continue;
        for (const h of w.resource.holderOwners()) {
          addOwner(h);
          addHold(h, w.resource);
        }
        if (w.resource.taskOf) addOwner(w.resource.taskOf);
      }
      continue;
    }
    for (const o of c.owners.values()) {
      if (truncated) break clients;
      addOwner(o);
      for (const w of o.waits) {
        addResource(w.resource);
        addWait(w);
      }
      for (const { resource: r } of o.allHolds()) {
        if (truncated) break clients;
        if (r.kind === 'task') continue;
        addResource(r);
        addHold(o, r);
      }
    }
  }
  // A task-end resource "is held" by its task for the task's whole life.
  for (const r of taskEnds) {
    const t = r.taskOf as Owner;
    const from = resourceNodeKey(r);
    const to = ownerNodeKey(t);
    if (g.hasNode(to) && !g.hasEdge(from, to)) g.addEdge(from, to, { kind: 'holds', since: t.startedAt });
  }
  g.setAttribute('truncated', truncated);
  if (opts.maxNodes !== undefined) g.setAttribute('maxNodes', opts.maxNodes);
  return g;
}

const dotId = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** Graphviz DOT: owners as boxes, resources as ellipses, deadlock members in red. */
export function graphToDot(g: ExportedGraph): string {
  const lines = ['digraph deadlockd {', '  rankdir=LR;', '  node [fontname="Helvetica"];'];
  if (g.getAttribute('truncated') === true) lines.push(`  // truncated: only the first ${String(g.getAttribute('maxNodes'))} nodes (see ?limit=)`);
  g.forEachNode((key, a) => {
    const red = a.deadlocks.length > 0 ? ', color=red, fontcolor=red, penwidth=2' : '';
    if (a.kind === 'owner') lines.push(`  ${dotId(key)} [shape=box, label=${dotId(`${a.label}\n${a.service}`)}${red}];`);
    else {
      const cap = a.capacity === null ? '' : ` ${a.held}/${a.capacity}`;
      lines.push(`  ${dotId(key)} [shape=ellipse, label=${dotId(`${a.label}\n${a.type}${cap}`)}${red}];`);
    }
  });
  g.forEachEdge((_e, a, src, dst) => {
    const what = a.mode ?? (a.units !== undefined ? `${a.units}` : '');
    const style = a.kind === 'waits' ? `style=dashed, label=${dotId(`waits ${what}`.trim())}` : `label=${dotId(`holds ${what}`.trim())}`;
    lines.push(`  ${dotId(src)} -> ${dotId(dst)} [${style}];`);
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}

export interface OwnerDetail extends OwnerNode {
  holds: Array<{ resource: string; label: string; mode?: LockMode; units?: number; since: number }>;
  waits: Array<{ waitId: string; resource: string; label: string; mode?: LockMode; units?: number; since: number; aborting: boolean; stack?: string }>;
}

export function ownerDetail(engine: Engine, client: string, owner: string): OwnerDetail | undefined {
  const o = engine.clients.get(client)?.owners.get(owner);
  if (!o) return undefined;
  return {
    ...ownerNode(o),
    holds: [...o.allHolds()]
      .filter((h) => h.resource.kind !== 'task')
      .map((h) => ({ resource: h.resource.key, label: h.resource.label, ...shape(h.resource, h.units), since: h.since })),
    waits: [...o.waits].map((w) => ({
      waitId: w.id,
      resource: w.resource.key,
      label: w.resource.label,
      ...waitShape(w),
      since: w.since,
      aborting: w.aborting,
      ...(w.stack ? { stack: w.stack } : {}),
    })),
  };
}

export interface ResourceDetail extends ResourceNode {
  holders: Array<{ owner: string; client: string; name: string; mode?: LockMode; units?: number; since: number }>;
  /** pending waits in arrival order (the grant order for FIFO resources) */
  queue: Array<{ waitId: string; owner: string; client: string; name: string; mode?: LockMode; units?: number; since: number }>;
  fifo: boolean;
}

/** A resource by its key (as in reports and graph nodes: `g:<name>` for shared, `<client>:<name>` for local). */
export function resourceDetail(engine: Engine, key: string): ResourceDetail | undefined {
  const r = engine.findResource(key);
  if (!r) return undefined;
  return {
    ...resourceNode(r),
    fifo: r.fifo,
    holders: [...r.allHolds()].map((h) => ({
      owner: h.owner.id,
      client: h.owner.client.info.id,
      name: h.owner.name,
      ...shape(r, h.units),
      since: h.since,
    })),
    queue: [...r.inGrantOrder()].map((w) => ({
      waitId: w.id,
      owner: w.owner.id,
      client: w.owner.client.info.id,
      name: w.owner.name,
      ...waitShape(w),
      since: w.since,
    })),
  };
}
