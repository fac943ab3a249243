// Node positions for the dashboard, computed on the server so every viewer
// sees the same picture and nothing jumps on an update.
//
// Stability rule: a node keeps its position until its own connections change.
// The first layout is a circle relaxed by ForceAtlas2. After that, only new
// nodes and nodes whose neighbourhood changed (e.g. the two owners a new
// deadlock joins) are free to move; every other node is pinned (`fixed`), so
// an update elsewhere in the graph leaves it exactly where it was.
import graphology from 'graphology';
import forceAtlas2Module from 'graphology-layout-forceatlas2';

// graphology ships CommonJS; its default export is the Graph class namespace.
const { UndirectedGraph } = graphology as unknown as { UndirectedGraph: typeof import('graphology').UndirectedGraph };
// CommonJS too: under NodeNext its typings' `export default` is the module object, the function is at .default at
// type level but is the module itself at run time.
const forceAtlas2 = ((forceAtlas2Module as unknown as { default?: unknown }).default ?? forceAtlas2Module) as unknown as typeof import('graphology-layout-forceatlas2').default;

export interface Point {
  x: number;
  y: number;
}

/** The shape the layout needs: node keys and (undirected) links between them. */
export interface LayoutInput {
  nodes: readonly string[];
  links: ReadonlyArray<readonly [string, string]>;
}

/** Deterministic angle in [0, 2π) from a key, so seeds do not depend on arrival order. */
function angleOf(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return ((h >>> 0) / 2 ** 32) * 2 * Math.PI;
}

/** Fewer iterations on big graphs: the layout runs on the event loop. */
function iterationsFor(order: number, first: boolean): number {
  if (order <= 300) return first ? 200 : 60;
  if (order <= 1000) return first ? 80 : 25;
  return first ? 30 : 10;
}

export class StableLayout {
  private readonly positions = new Map<string, Point>();
  /** each node's sorted neighbour list as of the last layout, to see whose connections changed */
  private readonly neighbourhoods = new Map<string, string>();

  /** Computes positions for `input`; returns them (also kept for the next update). */
  update(input: LayoutInput): Map<string, Point> {
    const g = new UndirectedGraph<{ x: number; y: number; fixed: boolean }>();
    for (const key of input.nodes) g.mergeNode(key, { x: 0, y: 0, fixed: false });
    for (const [a, b] of input.links) if (a !== b && g.hasNode(a) && g.hasNode(b)) g.mergeEdge(a, b);

    for (const key of [...this.positions.keys()]) {
      if (!g.hasNode(key)) {
        this.positions.delete(key);
        this.neighbourhoods.delete(key);
      }
    }

    const first = this.positions.size === 0;
    const radius = Math.max(10, Math.sqrt(g.order) * 10);
    const seeds = this.seeds(g, radius);
    let free = 0;
    g.forEachNode((key, attrs) => {
      const hood = g.neighbors(key).sort().join('\u0000');
      const known = this.positions.get(key);
      const p = known ?? seeds.get(key) ?? { x: 0, y: 0 };
      attrs.x = p.x;
      attrs.y = p.y;
      if (known && this.neighbourhoods.get(key) === hood) attrs.fixed = !first;
      else free++;
      this.neighbourhoods.set(key, hood);
    });

    if (free > 0 && g.order > 1) {
      const settings = {
        ...forceAtlas2.inferSettings(g),
        gravity: 1,
        scalingRatio: 10,
        barnesHutOptimize: g.order > 500,
      };
      forceAtlas2.assign(g, { iterations: iterationsFor(g.order, first), settings });
    }
    g.forEachNode((key, a) => this.positions.set(key, { x: round(a.x), y: round(a.y) }));
    return new Map(this.positions);
  }

  /**
   * Start positions of the nodes not placed yet. One next to a placed
   * neighbour starts beside it. The others are laid out on circles in
   * depth-first order, so that a cycle starts as a ring, not tangled: on
   * the first layout one circle for everything; later, a small circle per
   * group of new nodes, on the outer ring.
   */
  private seeds(g: InstanceType<typeof UndirectedGraph>, radius: number): Map<string, Point> {
    const out = new Map<string, Point>();
    const first = this.positions.size === 0;
    const unplaced = new Set(g.nodes().filter((k) => !this.positions.has(k)));
    for (const key of unplaced) {
      const anchor = g.neighbors(key).find((n) => this.positions.has(n));
      if (anchor === undefined) continue;
      const p = this.positions.get(anchor)!;
      const angle = angleOf(key);
      out.set(key, { x: p.x + Math.cos(angle) * 5, y: p.y + Math.sin(angle) * 5 });
      unplaced.delete(key);
    }
    const groups: string[][] = [];
    for (const start of [...unplaced].sort()) {
      if (!unplaced.has(start)) continue;
      const order: string[] = [];
      const stack = [start];
      while (stack.length > 0) {
        const k = stack.pop()!;
        if (!unplaced.has(k)) continue;
        unplaced.delete(k);
        order.push(k);
        for (const n of g.neighbors(k).sort().reverse()) if (unplaced.has(n)) stack.push(n);
      }
      groups.push(order);
    }
    if (first) {
      const all = groups.flat();
      all.forEach((k, i) => {
        const a = (2 * Math.PI * i) / all.length;
        out.set(k, { x: Math.cos(a) * radius, y: Math.sin(a) * radius });
      });
      return out;
    }
    for (const group of groups) {
      const a = angleOf(group[0]!);
      const cx = Math.cos(a) * radius;
      const cy = Math.sin(a) * radius;
      const r = Math.max(3, group.length * 1.5);
      group.forEach((k, i) => {
        const b = (2 * Math.PI * i) / group.length;
        out.set(k, { x: cx + Math.cos(b) * r, y: cy + Math.sin(b) * r });
      });
    }
    return out;
  }
}

/** Two decimals are plenty on screen and keep the frames small and comparable. */
function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : 0;
}
