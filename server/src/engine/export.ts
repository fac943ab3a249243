// The graph as users see it, in graphology's serialized form (what
// `graph.export()` gives and `graph.import()` / sigma.js load), captured on
// request from the engine's compact indexes: REST (JSON and DOT) and the
// dashboard share it. Never on the hot path.
//
// Like SQL Server's deadlock graph it is bipartite: owner nodes and resource
// nodes; an owner → resource edge is a wait, a resource → owner edge a hold.
// Deadlock members carry the ids of the active deadlocks they are in.
//
// A capture is plain data: every attribute is copied (numbers, strings, fresh
// arrays), nothing points back into the engine. So it can be serialized later,
// in slices across event-loop turns, and still show the graph as it was at the
// one instant it was taken, whatever the engine does in between.
import type { LockMode } from '@deadlockd/proto';
import type { Engine } from './engine.js';
import { EXCLUSIVE, modeOf, Resource, type Owner, type Wait } from './model.js';
import { runToEnd, STEP, type Steps } from './steps.js';

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

/** A node as graphology serializes it. */
export interface GraphNode {
  key: string;
  attributes: NodeAttrs;
}

/** An edge as graphology serializes it. Keys are stable: `<kind>:<source>-><target>`, `#n` for the n-th more. */
export interface GraphEdge {
  key: string;
  source: string;
  target: string;
  attributes: EdgeAttrs;
}


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
  if (o.waits.size === 0) return [];
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

function deadlocksOfResource(r: Resource): string[] {
  // deadlocked waits are rare: a long queue costs one pass over it, no allocation
  let ids: Set<string> | undefined;
  for (const w of r.queue) if (w.deadlocks) for (const id of w.deadlocks) (ids ??= new Set()).add(id);
  return ids ? [...ids] : [];
}

const heldOf = (r: Resource, held: number): number => (r.kind === 'rwlock' ? (held >= EXCLUSIVE ? 1 : held) : r.kind === 'task' ? 1 : held);
const capacityOf = (r: Resource, capacity: number): number | null => (r.kind === 'rwlock' || r.kind === 'task' ? null : capacity);

function resourceNode(r: Resource): ResourceNode {
  return {
    kind: 'resource',
    label: r.label,
    resource: r.key,
    type: r.kind,
    scope: r.global ? 'global' : 'local',
    capacity: capacityOf(r, r.capacity),
    held: heldOf(r, r.held),
    queued: r.queue.size,
    deadlocks: deadlocksOfResource(r),
  };
}

export interface ExportOptions {
  blockedOnly?: boolean;
  /**
   * At most this many nodes (the rest of the graph is left out, and
   * `truncated` says so). The capture is one synchronous pass, linear in the
   * nodes it takes: this bounds how long it holds the daemon's only thread.
   */
  maxNodes?: number;
}

// A capture is columnar: flat arrays of fixed-size records, one slot per value
// that can still change in the engine (a name, a count, a flag) plus the
// engine object itself for what cannot (ids, client, kind, a wait's resource
// and stack: readonly fields). Taking it allocates no object and builds no
// string per node, which makes it ~10× cheaper than building the serialized
// objects on the spot (10k nodes: well under a millisecond of work); node() and
// edge() build those later, in the serializer's slices.
//   node record: Owner,    name,  priority, abortable, startedAt, waiting, deadlocks
//                Resource, label, capacity, held,      queued,    deadlocks, -
//   edge record: HOLD, Owner,    Resource, units, since (not the Hold: an owner's own hold
//                                 is the Owner, whose hold fields change with its next hold)
//                WAIT, Wait,     aborting, n (the n-th wait of its owner on that resource), -
//                TASK, Resource, startedAt of its task, -, -
const NODE = 7;
/** shared by every node that is in no deadlock (almost all): one allocation less per node; never mutated */
const NO_DEADLOCKS = Object.freeze([]) as unknown as string[];
const EDGE = 5;
const HOLD = 0;
const WAIT = 1;
const TASK = 2;

/** The graph at one instant, detached from the engine's changes (see the top of this file). */
export class GraphCapture {
  constructor(
    private readonly nodeRecords: readonly unknown[],
    private readonly edgeRecords: readonly unknown[],
    /** maxNodes was reached: part of the graph was left out */
    readonly truncated: boolean,
    readonly maxNodes: number | undefined,
  ) {}

  get nodeCount(): number {
    return this.nodeRecords.length / NODE;
  }

  get edgeCount(): number {
    return this.edgeRecords.length / EDGE;
  }

  node(i: number): GraphNode {
    const v = this.nodeRecords;
    const at = i * NODE;
    const ref = v[at] as Owner | Resource;
    if (ref instanceof Resource) {
      return {
        key: `r:${ref.key}`,
        attributes: {
          kind: 'resource',
          label: v[at + 1] as string,
          resource: ref.key,
          type: ref.kind,
          scope: ref.global ? 'global' : 'local',
          capacity: capacityOf(ref, v[at + 2] as number),
          held: heldOf(ref, v[at + 3] as number),
          queued: v[at + 4] as number,
          deadlocks: v[at + 5] as string[],
        },
      };
    }
    return {
      key: `o:${ref.key}`,
      attributes: {
        kind: 'owner',
        label: v[at + 1] as string,
        owner: ref.id,
        client: ref.client.info.id,
        service: ref.client.info.service,
        priority: v[at + 2] as number,
        abortable: v[at + 3] as boolean,
        startedAt: v[at + 4] as number,
        waiting: v[at + 5] as boolean,
        deadlocks: v[at + 6] as string[],
      },
    };
  }

  edge(i: number): GraphEdge {
    const v = this.edgeRecords;
    const at = i * EDGE;
    const tag = v[at] as number;
    if (tag === WAIT) {
      const w = v[at + 1] as Wait;
      const source = `o:${w.owner.key}`;
      const target = `r:${w.resource.key}`;
      const n = v[at + 3] as number;
      return {
        key: `waits:${source}->${target}${n === 0 ? '' : `#${n}`}`,
        source,
        target,
        attributes: { kind: 'waits', waitId: w.id, ...waitShape(w), since: w.since, aborting: v[at + 2] as boolean, ...(w.stack ? { stack: w.stack } : {}) },
      };
    }
    if (tag === HOLD) {
      const r = v[at + 2] as Resource;
      const source = `r:${r.key}`;
      const target = `o:${(v[at + 1] as Owner).key}`;
      return { key: `holds:${source}->${target}`, source, target, attributes: { kind: 'holds', ...shape(r, v[at + 3] as number), since: v[at + 4] as number } };
    }
    const r = v[at + 1] as Resource;
    const source = `r:${r.key}`;
    const target = `o:${(r.taskOf as Owner).key}`;
    return { key: `holds:${source}->${target}`, source, target, attributes: { kind: 'holds', since: v[at + 2] as number } };
  }

  /**
   * `JSON.stringify(this.node(i))`, written directly: the same text (a test
   * checks it) without building the objects, so a big response makes less
   * garbage (fewer young-generation collections, which pause the loop).
   */
  nodeJson(i: number): string {
    const v = this.nodeRecords;
    const at = i * NODE;
    const ref = v[at] as Owner | Resource;
    if (ref instanceof Resource) {
      const key = ref.key;
      const capacity = capacityOf(ref, v[at + 2] as number);
      return (
        `{"key":${str(`r:${key}`)},"attributes":{"kind":"resource","label":${str(v[at + 1] as string)},"resource":${str(key)},` +
        `"type":"${ref.kind}","scope":"${ref.global ? 'global' : 'local'}","capacity":${capacity === null ? 'null' : num(capacity)},` +
        `"held":${num(heldOf(ref, v[at + 3] as number))},"queued":${num(v[at + 4] as number)},"deadlocks":${ids(v[at + 5] as string[])}}}`
      );
    }
    const info = ref.client.info;
    return (
      `{"key":${str(`o:${ref.key}`)},"attributes":{"kind":"owner","label":${str(v[at + 1] as string)},"owner":${str(ref.id)},` +
      `"client":${str(info.id)},"service":${str(info.service)},"priority":${num(v[at + 2] as number)},"abortable":${String(v[at + 3] as boolean)},` +
      `"startedAt":${num(v[at + 4] as number)},"waiting":${String(v[at + 5] as boolean)},"deadlocks":${ids(v[at + 6] as string[])}}}`
    );
  }

  /** `JSON.stringify(this.edge(i))`, written directly (see nodeJson). */
  edgeJson(i: number): string {
    const v = this.edgeRecords;
    const at = i * EDGE;
    const tag = v[at] as number;
    let source: string;
    let target: string;
    let attrs: string;
    let suffix = '';
    if (tag === WAIT) {
      const w = v[at + 1] as Wait;
      source = `o:${w.owner.key}`;
      target = `r:${w.resource.key}`;
      const n = v[at + 3] as number;
      if (n !== 0) suffix = `#${n}`;
      attrs = `{"kind":"waits","waitId":${str(w.id)}${shapeJson(waitShape(w))},"since":${num(w.since)},"aborting":${String(v[at + 2] as boolean)}${w.stack ? `,"stack":${str(w.stack)}` : ''}}`;
    } else if (tag === HOLD) {
      const r = v[at + 2] as Resource;
      source = `r:${r.key}`;
      target = `o:${(v[at + 1] as Owner).key}`;
      attrs = `{"kind":"holds"${shapeJson(shape(r, v[at + 3] as number))},"since":${num(v[at + 4] as number)}}`;
    } else {
      const r = v[at + 1] as Resource;
      source = `r:${r.key}`;
      target = `o:${(r.taskOf as Owner).key}`;
      attrs = `{"kind":"holds","since":${num(v[at + 2] as number)}}`;
    }
    const kind = tag === WAIT ? 'waits' : 'holds';
    return `{"key":${str(`${kind}:${source}->${target}${suffix}`)},"source":${str(source)},"target":${str(target)},"attributes":${attrs}}`;
  }

  /** node(i).key, without the rest */
  nodeKey(i: number): string {
    const ref = this.nodeRecords[i * NODE] as Owner | Resource;
    return ref instanceof Resource ? `r:${ref.key}` : `o:${ref.key}`;
  }

  /** [edge(i).source, edge(i).target], without the rest */
  edgeEnds(i: number): [string, string] {
    const v = this.edgeRecords;
    const at = i * EDGE;
    const tag = v[at] as number;
    if (tag === WAIT) {
      const w = v[at + 1] as Wait;
      return [`o:${w.owner.key}`, `r:${w.resource.key}`];
    }
    if (tag === HOLD) {
      return [`r:${(v[at + 2] as Resource).key}`, `o:${(v[at + 1] as Owner).key}`];
    }
    const r = v[at + 1] as Resource;
    return [`r:${r.key}`, `o:${(r.taskOf as Owner).key}`];
  }

  nodes(): GraphNode[] {
    return Array.from({ length: this.nodeCount }, (_, i) => this.node(i));
  }

  edges(): GraphEdge[] {
    return Array.from({ length: this.edgeCount }, (_, i) => this.edge(i));
  }
}

const str = (s: string): string => JSON.stringify(s);
/** as JSON.stringify writes a number (a client's priority may be any number JSON.parse gives, 1e400 too) */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');
const ids = (a: readonly string[]): string => (a.length === 0 ? '[]' : JSON.stringify(a));
const shapeJson = (x: { mode?: LockMode; units?: number }): string =>
  x.mode !== undefined ? `,"mode":"${x.mode}"` : x.units !== undefined ? `,"units":${num(x.units)}` : '';

/** which of its owner's waits on the same resource `w` is (0 for the first, almost always the only one) */
function sameTargetIndex(w: Wait): number {
  if (w.owner.waits.size === 1) return 0;
  let n = 0;
  for (const x of w.owner.waits) {
    if (x === w) return n;
    if (x.resource === w.resource) n++;
  }
  return n;
}

/**
 * The live graph, captured in one pass. With `blockedOnly`, just the blocked
 * part: owners that wait, what they wait for, and who holds that.
 */
export function captureGraph(engine: Engine, opts: ExportOptions = {}): GraphCapture {
  return runToEnd(captureGraphSteps(engine, opts));
}

/**
 * captureGraph(), pausing every STEP owners or waits (steps.ts): 10,000 nodes of a big graph
 * are a 4-17 ms pass. The graph must not change until it ends (Namespace.read).
 */
export function* captureGraphSteps(engine: Engine, opts: ExportOptions = {}): Steps<GraphCapture> {
  let work = 0;
  const maxNodes = opts.maxNodes ?? Number.MAX_SAFE_INTEGER;
  const nodes: unknown[] = [];
  const edges: unknown[] = [];
  const taken = new Set<Owner | Resource>();
  let truncated = false;
  const room = (): boolean => {
    if (taken.size < maxNodes) return true;
    truncated = true;
    return false;
  };
  const addOwner = (o: Owner) => {
    if (taken.has(o) || !room()) return;
    taken.add(o);
    nodes.push(o, o.name, o.priority, o.abortable, o.startedAt, o.waits.size > 0, o.waits.size === 0 ? NO_DEADLOCKS : deadlocksOfOwner(o));
  };
  const taskEnds: Resource[] = [];
  /** false when the resource was already in the graph (or there is no room for it) */
  const addResource = (r: Resource): boolean => {
    if (taken.has(r) || !room()) return false;
    taken.add(r);
    nodes.push(r, r.label, r.capacity, r.held, r.queue.size, r.queue.size === 0 ? NO_DEADLOCKS : deadlocksOfResource(r), 0);
    if (r.taskOf) taskEnds.push(r);
    return true;
  };
  // an edge only between nodes that made it in
  const addHold = (o: Owner, r: Resource) => {
    const h = o.holdOn(r);
    if (!h || r.kind === 'task' || !taken.has(r) || !taken.has(o)) return;
    edges.push(HOLD, o, r, h.units, h.since);
  };
  const addWait = (w: Wait) => {
    if (taken.has(w.owner) && taken.has(w.resource)) edges.push(WAIT, w, w.aborting, sameTargetIndex(w), 0);
  };

  clients: for (const c of engine.clients.values()) {
    if (truncated) break clients;
    if (opts.blockedOnly) {
      // only waits matter here: each one, its owner, and (once per resource) who holds that
      for (const w of c.waits.values()) {
        if (truncated) break clients;
        if (++work % STEP === 0) yield;
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
      if (++work % STEP === 0) yield;
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
  // A task-end resource "is held" by its task for the task's whole life (addHold
  // skips task resources, so this edge is the only one between the two).
  for (const r of taskEnds) {
    const t = r.taskOf as Owner;
    if (taken.has(t)) edges.push(TASK, r, t.startedAt, 0, 0);
  }
  return new GraphCapture(nodes, edges, truncated, opts.maxNodes);
}

/** graphology's serialized graph (`graph.export()` of a MultiDirectedGraph), without its node and edge lists. */
export function graphHeader(g: GraphCapture): { options: { type: 'directed'; multi: true; allowSelfLoops: true }; attributes: { truncated: boolean; maxNodes?: number } } {
  return {
    options: { type: 'directed', multi: true, allowSelfLoops: true },
    attributes: { truncated: g.truncated, ...(g.maxNodes !== undefined ? { maxNodes: g.maxNodes } : {}) },
  };
}

const dotId = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** The DOT lines before the nodes. */
export function dotHead(g: GraphCapture): string {
  const lines = ['digraph deadlockd {', '  rankdir=LR;', '  node [fontname="Helvetica"];'];
  if (g.truncated) lines.push(`  // truncated: only the first ${String(g.maxNodes)} nodes (see ?limit=)`);
  return lines.join('\n');
}

export const DOT_TAIL = '}\n';

/** One node's DOT line: owners as boxes, resources as ellipses, deadlock members in red. */
export function dotNode({ key, attributes: a }: GraphNode): string {
  const red = a.deadlocks.length > 0 ? ', color=red, fontcolor=red, penwidth=2' : '';
  if (a.kind === 'owner') return `  ${dotId(key)} [shape=box, label=${dotId(`${a.label}\n${a.service}`)}${red}];`;
  const cap = a.capacity === null ? '' : ` ${a.held}/${a.capacity}`;
  return `  ${dotId(key)} [shape=ellipse, label=${dotId(`${a.label}\n${a.type}${cap}`)}${red}];`;
}

/** One edge's DOT line: waits dashed. */
export function dotEdge({ source, target, attributes: a }: GraphEdge): string {
  const what = a.mode ?? (a.units !== undefined ? `${a.units}` : '');
  const style = a.kind === 'waits' ? `style=dashed, label=${dotId(`waits ${what}`.trim())}` : `label=${dotId(`holds ${what}`.trim())}`;
  return `  ${dotId(source)} -> ${dotId(target)} [${style}];`;
}

/** Graphviz DOT of a capture, in one string (REST streams the same lines in slices). */
export function graphToDot(g: GraphCapture): string {
  return [dotHead(g), ...g.nodes().map(dotNode), ...g.edges().map(dotEdge)].join('\n') + '\n' + DOT_TAIL;
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
