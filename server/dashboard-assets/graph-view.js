// The live wait-for graph: sigma.js (WebGL) over a graphology graph whose
// nodes carry the server's positions. Owners are filled discs, resources are
// rings; holds are solid arrows drawn by sigma, waits are dashed arrows drawn
// on a 2D canvas layer under the nodes (sigma has no dashed edge program).
// Deadlock members and the edges between them are red.
import { duration, esc } from './format.js';

const { Sigma, rendering } = window.Sigma;
const { MultiDirectedGraph } = window.graphology;

export const COLORS = {
  owner: '#2563eb',
  waiting: '#d97706',
  resource: '#475569',
  red: '#dc2626',
  redFill: '#fee2e2',
  hold: '#64748b',
  wait: '#d97706',
  dim: '#e2e8f0',
  victimRing: '#0f172a',
};

const inDeadlock = (a) => Array.isArray(a.deadlocks) && a.deadlocks.length > 0;

/** an edge is part of a deadlock when both its ends belong to the same one */
function edgeDeadlocked(graph, source, target) {
  const s = graph.getNodeAttribute(source, 'deadlocks') ?? [];
  const t = graph.getNodeAttribute(target, 'deadlocks') ?? [];
  return s.some((id) => t.includes(id));
}

export class GraphView {
  constructor(container, { onNodeClick } = {}) {
    this.graph = new MultiDirectedGraph();
    this.focus = null; // Set of node keys to keep bright, or null
    this.victims = new Set();
    this.onNodeClick = onNodeClick;
    const NodeBordered = rendering.createNodeBorderProgram({
      borders: [
        { size: { attribute: 'borderSize', defaultValue: 0.15 }, color: { attribute: 'borderColor' } },
        { size: { fill: true }, color: { attribute: 'color' } },
      ],
    });
    this.renderer = new Sigma(this.graph, container, {
      defaultNodeType: 'bordered',
      nodeProgramClasses: { bordered: NodeBordered },
      defaultEdgeType: 'arrow',
      // a larger head than sigma's default, so the direction of a hold reads at a glance
      edgeProgramClasses: { arrow: rendering.createEdgeArrowProgram({ lengthToThicknessRatio: 3.5, widenessToThicknessRatio: 3 }) },
      labelFont: '"DejaVu Sans", system-ui, sans-serif',
      labelSize: 12,
      labelWeight: '600',
      labelColor: { color: '#0f172a' },
      labelDensity: 0.9,
      labelGridCellSize: 70,
      labelRenderedSizeThreshold: 6,
      stagePadding: 70,
      zIndex: true,
      minCameraRatio: 0.05,
      maxCameraRatio: 10,
      nodeReducer: (key, a) => this.nodeDisplay(key, a),
      edgeReducer: (key, a) => this.edgeDisplay(key, a),
    });
    this.renderer.createCanvasContext('waits', { beforeLayer: 'edgeLabels' });
    this.waitsCanvas = this.renderer.getCanvases().waits;
    this.renderer.resize(true); // size the new layer like sigma's own (it was added after sigma's first resize)
    this.renderer.on('afterRender', () => this.drawWaits());
    this.renderer.on('clickNode', ({ node }) => this.onNodeClick?.(node));
    this.renderer.on('clickStage', () => this.onNodeClick?.(null));
  }

  /** Replace the graph's content with a frame's, in place (sigma keeps its camera). */
  load(frame) {
    const g = this.graph;
    const keep = new Set(frame.graph.nodes.map((n) => n.key));
    g.clearEdges();
    for (const key of g.nodes()) if (!keep.has(key)) g.dropNode(key);
    for (const n of frame.graph.nodes) {
      if (g.hasNode(n.key)) g.replaceNodeAttributes(n.key, n.attributes);
      else g.addNode(n.key, n.attributes);
    }
    for (const e of frame.graph.edges) g.addEdgeWithKey(e.key, e.source, e.target, e.attributes);
    this.victims = new Set(
      frame.cycles.filter((c) => c.report.victim).map((c) => `o:${c.report.victim.owner}`),
    );
    if (this.focus) this.focus = new Set([...this.focus].filter((k) => g.hasNode(k)));
    // a few hundred nodes: fewer labels, so the forced ones (deadlocks) stay readable; zoom in for the rest
    // (sigma shows at least one label per grid cell: bigger cells, fewer labels)
    const cell = g.order > 150 ? 160 : 70;
    if (this.renderer.getSetting('labelGridCellSize') !== cell) this.renderer.setSetting('labelGridCellSize', cell);
    this.renderer.refresh();
  }

  nodeDisplay(key, a) {
    const red = inDeadlock(a);
    const d = { x: a.x, y: a.y, label: a.label, zIndex: red ? 2 : 1 };
    if (a.kind === 'owner') {
      d.size = red ? 11 : 8;
      d.color = red ? COLORS.red : a.waiting ? COLORS.waiting : COLORS.owner;
      d.borderColor = '#ffffff';
      d.borderSize = 0.15;
      if (this.victims.has(key)) {
        d.borderColor = COLORS.victimRing;
        d.borderSize = 0.3;
        d.label = `${a.label} (victim)`;
      }
    } else {
      d.size = red ? 9 : 7;
      d.color = red ? COLORS.redFill : '#ffffff';
      d.borderColor = red ? COLORS.red : COLORS.resource;
      d.borderSize = 0.35;
    }
    if (red) d.forceLabel = true;
    if (this.focus && !this.focus.has(key)) {
      d.color = COLORS.dim;
      d.borderColor = COLORS.dim;
      d.label = '';
      d.forceLabel = false;
      d.zIndex = 0;
    } else if (this.focus) {
      d.forceLabel = true;
      d.zIndex = 3;
    }
    return d;
  }

  edgeDisplay(key, a) {
    // waits are drawn dashed by drawWaits(); sigma draws only the holds
    if (a.kind === 'waits') return { hidden: true };
    const [s, t] = this.graph.extremities(key);
    const red = edgeDeadlocked(this.graph, s, t);
    const dim = this.focus && !(this.focus.has(s) && this.focus.has(t));
    return { color: dim ? COLORS.dim : red ? COLORS.red : COLORS.hold, size: red ? 3 : 2, zIndex: red ? 1 : 0 };
  }

  drawWaits() {
    const r = this.renderer;
    const ctx = this.waitsCanvas.getContext('2d');
    const { width, height } = r.getDimensions();
    ctx.clearRect(0, 0, width, height);
    this.graph.forEachEdge((_key, a, source, target) => {
      if (a.kind !== 'waits') return;
      const sd = r.getNodeDisplayData(source);
      const td = r.getNodeDisplayData(target);
      if (!sd || !td || sd.hidden || td.hidden) return;
      const p = r.framedGraphToViewport(sd);
      const q = r.framedGraphToViewport(td);
      const dx = q.x - p.x;
      const dy = q.y - p.y;
      const len = Math.hypot(dx, dy);
      const rs = r.scaleSize(sd.size);
      const rt = r.scaleSize(td.size);
      if (len <= rs + rt + 2) return;
      const ux = dx / len;
      const uy = dy / len;
      const red = edgeDeadlocked(this.graph, source, target);
      const dim = this.focus && !(this.focus.has(source) && this.focus.has(target));
      const color = dim ? COLORS.dim : red ? COLORS.red : COLORS.wait;
      const head = red ? 11 : 9;
      const sx = p.x + ux * rs;
      const sy = p.y + uy * rs;
      const ex = q.x - ux * (rt + 1);
      const ey = q.y - uy * (rt + 1);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = red ? 3 : 2;
      ctx.setLineDash(a.aborting ? [2, 4] : [7, 5]);
      ctx.beginPath();
      ctx.moveTo(sx, sy);
      ctx.lineTo(ex - ux * head * 0.8, ey - uy * head * 0.8);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.beginPath();
      ctx.moveTo(ex, ey);
      ctx.lineTo(ex - ux * head - uy * head * 0.45, ey - uy * head + ux * head * 0.45);
      ctx.lineTo(ex - ux * head + uy * head * 0.45, ey - uy * head - ux * head * 0.45);
      ctx.closePath();
      ctx.fill();
    });
  }

  /** Dim everything but `keys` and move the camera onto them; null clears. */
  setFocus(keys) {
    this.focus = keys && keys.length ? new Set(keys.filter((k) => this.graph.hasNode(k))) : null;
    this.renderer.refresh({ skipIndexation: true });
    if (!this.focus || this.focus.size === 0) return;
    let x = 0;
    let y = 0;
    for (const k of this.focus) {
      const d = this.renderer.getNodeDisplayData(k);
      x += d.x;
      y += d.y;
    }
    this.renderer.getCamera().animate({ x: x / this.focus.size, y: y / this.focus.size, ratio: 0.5 }, { duration: 400 });
  }

  /** HTML describing one node (for the info box). */
  describe(key) {
    const g = this.graph;
    if (!g.hasNode(key)) return '';
    const a = g.getNodeAttributes(key);
    const now = Date.now();
    const name = (k) => esc(g.getNodeAttribute(k, 'label'));
    const shape = (e) => [e.mode, e.units !== undefined ? `${e.units} unit(s)` : ''].filter(Boolean).join(', ');
    const li = (items) => (items.length ? `<ul>${items.join('')}</ul>` : '<ul><li><i>none</i></li></ul>');
    const dl = inDeadlock(a) ? `<p><b style="color:${COLORS.red}">in deadlock ${a.deadlocks.map(esc).join(', ')}</b></p>` : '';
    if (a.kind === 'owner') {
      const holds = g.inEdges(key).filter((e) => g.getEdgeAttribute(e, 'kind') === 'holds').map((e) => {
        const ea = g.getEdgeAttributes(e);
        return `<li>${name(g.source(e))} ${esc(shape(ea))} <span class="why">for ${duration(now - ea.since)}</span></li>`;
      });
      const waits = g.outEdges(key).filter((e) => g.getEdgeAttribute(e, 'kind') === 'waits').map((e) => {
        const ea = g.getEdgeAttributes(e);
        return `<li>${name(g.target(e))} ${esc(shape(ea))} <span class="why">for ${duration(now - ea.since)}${ea.aborting ? ', being aborted' : ''}</span></li>`;
      });
      return `<h3>${esc(a.label)}</h3><div>task of <b>${esc(a.service)}</b> · priority ${a.priority}${a.abortable ? '' : ' · not abortable'}</div>${dl}<b>holds</b>${li(holds)}<b>waits for</b>${li(waits)}`;
    }
    const cap = a.capacity === null ? '' : ` · ${a.held}/${a.capacity} held`;
    const holders = g.outEdges(key).filter((e) => g.getEdgeAttribute(e, 'kind') === 'holds').map((e) => `<li>${name(g.target(e))}</li>`);
    const waiters = g.inEdges(key).filter((e) => g.getEdgeAttribute(e, 'kind') === 'waits').map((e) => `<li>${name(g.source(e))} <span class="why">for ${duration(now - g.getEdgeAttribute(e, 'since'))}</span></li>`);
    return `<h3>${esc(a.label)}</h3><div>${esc(a.type)} · ${esc(a.scope)}${cap} · ${a.queued} queued</div>${dl}<b>held by</b>${li(holders)}<b>waited for by</b>${li(waiters)}`;
  }
}
