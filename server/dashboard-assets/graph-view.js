// The live wait-for graph: sigma.js (WebGL) over a graphology graph whose
// nodes carry the server's positions. Owners are filled discs, resources are
// rings; holds are solid arrows drawn by sigma, waits are dashed arrows drawn
// on a 2D canvas layer under the nodes (sigma has no dashed edge program).
// Deadlock members and the edges between them are red; each current deadlock
// is drawn apart from the rest, in a band on the right (deadlock-layout.js).
// Focusing a deadlock keeps its owners, resources and the edges between them
// lit and dims the rest.
import { LABELLED_MAX_NODES, deadlockGroups, frameViewport, placeNodes } from './deadlock-layout.js';
import { duration, esc } from './format.js';
import { uniqueShortNames } from './names.js';

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

/** sigma's label, on the node's left when `labelSide` says so */
function drawSidedLabel(ctx, data, settings) {
  if (data.labelSide !== 'left') return rendering.drawDiscNodeLabel(ctx, data, settings);
  if (!data.label) return;
  ctx.fillStyle = settings.labelColor.color;
  ctx.font = `${settings.labelWeight} ${settings.labelSize}px ${settings.labelFont}`;
  const w = ctx.measureText(data.label).width;
  ctx.fillText(data.label, data.x - data.size - 3 - w, data.y + settings.labelSize / 3);
}

/** Labels of deadlocked nodes are cut in the middle to this many characters (unique; the full one on hover and in the popup). */
const DEADLOCK_LABEL_MAX = 24;

export class GraphView {
  constructor(container, { onNodeClick } = {}) {
    this.graph = new MultiDirectedGraph();
    this.focus = null; // Set of node keys to keep bright, or null
    this.focusId = null; // the deadlock the focus is on
    this.frame = null;
    this.labelled = new Set(); // keys whose labels are always drawn (small deadlocks)
    this.shortLabels = new Map(); // key → the label drawn, for deadlocked nodes
    this.smallNodes = new Map(); // key → scale, for the nodes of deadlocks too big to label (smaller still past 100 nodes)
    this.victims = new Set();
    this.measure = document.createElement('canvas').getContext('2d');
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
      // labels on the left half of a deadlock's ring are drawn on the left (deadlock-layout.js)
      defaultDrawNodeLabel: (ctx, data, settings) => drawSidedLabel(ctx, data, settings),
      // a shortened label shows in full on hover
      defaultDrawNodeHover: (ctx, data, settings) => rendering.drawDiscNodeHover(ctx, { ...data, label: data.fullLabel ?? data.label }, settings),
      nodeReducer: (key, a) => this.nodeDisplay(key, a),
      edgeReducer: (key, a) => this.edgeDisplay(key, a),
    });
    this.renderer.createCanvasContext('waits', { beforeLayer: 'edgeLabels' });
    this.waitsCanvas = this.renderer.getCanvases().waits;
    this.renderer.resize(true); // size the new layer like sigma's own (it was added after sigma's first resize)
    this.renderer.on('afterRender', () => this.drawWaits());
    this.renderer.on('clickNode', ({ node }) => this.onNodeClick?.(node));
    this.renderer.on('clickStage', () => this.onNodeClick?.(null));
    // the plan is in pixels: on a resize, redo it (sizing sigma first, whichever listener runs first)
    window.addEventListener('resize', () => {
      if (!this.frame) return;
      this.renderer.resize();
      this.layout();
      this.renderer.refresh();
    });
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
    this.frame = frame;
    this.layout();
    // a focused deadlock that is gone (resolved, or the daemon restarted) takes the focus with it
    if (this.focusId) this.focus = this.deadlockKeys(this.focusId);
    if (this.focus && this.focus.size === 0) {
      this.focus = null;
      this.focusId = null;
    }
    // a few hundred nodes: fewer labels, so the forced ones (deadlocks) stay readable; zoom in for the rest
    // (sigma shows at least one label per grid cell: bigger cells, fewer labels)
    const cell = g.order > 150 ? 160 : 70;
    if (this.renderer.getSetting('labelGridCellSize') !== cell) this.renderer.setSetting('labelGridCellSize', cell);
    this.renderer.refresh();
  }

  /** Positions every node: the background on the left, the deadlocks apart on the right. */
  layout() {
    const { width, height } = this.renderer.getDimensions();
    if (!width || !height) return;
    const toGraph = frameViewport(this.renderer, width, height);
    const groups = deadlockGroups(this.graph, this.frame?.cycles ?? []);
    const keys = groups.flatMap((g) => g.keys);
    const full = keys.map((k) => this.displayLabel(k, this.graph.getNodeAttributes(k)) ?? '');
    const short = uniqueShortNames(full, DEADLOCK_LABEL_MAX);
    // the nodes of a deadlock too big to label are drawn small, so its ring stays a ring
    this.smallNodes = new Map(groups.filter((g) => g.keys.length > LABELLED_MAX_NODES).flatMap((g) => g.keys.map((k) => [k, g.keys.length > 100 ? 0.5 : 1])));
    this.shortLabels = new Map(keys.map((k, i) => [k, short.get(full[i])]));
    this.labelled = placeNodes({ graph: this.graph, groups, width, height, toGraph, box: (k, labelled, side) => this.footprint(k, labelled, side) });
  }

  /** the label sigma draws for a node */
  displayLabel(key, a) {
    return a.kind === 'owner' && this.victims.has(key) ? `${a.label} (victim)` : a.label;
  }

  /** the radius a node is drawn with, in pixels at the default camera */
  nodeSize(key, a) {
    const small = this.smallNodes.get(key);
    if (small) return (a.kind === 'owner' ? 6 : 5) * (small < 1 ? 0.7 : 1);
    const red = inDeadlock(a);
    return a.kind === 'owner' ? (red ? 11 : 8) : red ? 9 : 7;
  }

  /** A node's box on screen relative to its centre: its disc and, when `labelled`, its label on `side` (as sigma draws it). */
  footprint(key, labelled, side) {
    const a = this.graph.getNodeAttributes(key);
    const ns = this.renderer.scaleSize(this.nodeSize(key, a), 1);
    const box = { x0: -ns, x1: ns, y0: -ns, y1: ns };
    if (!labelled) return box;
    const r = this.renderer;
    this.measure.font = `${r.getSetting('labelWeight')} ${r.getSetting('labelSize')}px ${r.getSetting('labelFont')}`;
    const w = this.measure.measureText(this.shortLabels.get(key) ?? this.displayLabel(key, a) ?? '').width;
    const size = r.getSetting('labelSize');
    // sigma draws the label at (x + size + 3, y + labelSize / 3), on its baseline (drawSidedLabel mirrors it on the left)
    const y0 = Math.min(box.y0, size / 3 - size);
    const y1 = Math.max(box.y1, size / 3 + size * 0.3);
    if (side === 'left') return { x0: Math.min(box.x0, -ns - 3 - w), x1: box.x1, y0, y1 };
    return { x0: box.x0, x1: Math.max(box.x1, ns + 3 + w), y0, y1 };
  }

  /** the keys of the nodes in deadlock `id` */
  deadlockKeys(id) {
    const keys = new Set();
    this.graph.forEachNode((k, a) => {
      if (Array.isArray(a.deadlocks) && a.deadlocks.includes(id)) keys.add(k);
    });
    return keys;
  }

  nodeDisplay(key, a) {
    const red = inDeadlock(a);
    const fullLabel = this.displayLabel(key, a);
    const d = { x: a.x, y: a.y, label: this.shortLabels.get(key) ?? fullLabel, fullLabel, labelSide: a.labelSide, zIndex: red ? 2 : 1 };
    if (a.kind === 'owner') {
      d.size = this.nodeSize(key, a);
      d.color = red ? COLORS.red : a.waiting ? COLORS.waiting : COLORS.owner;
      d.borderColor = '#ffffff';
      d.borderSize = 0.15;
      if (this.victims.has(key)) {
        d.borderColor = COLORS.victimRing;
        d.borderSize = 0.3;
      }
    } else {
      d.size = this.nodeSize(key, a);
      d.color = red ? COLORS.redFill : '#ffffff';
      d.borderColor = red ? COLORS.red : COLORS.resource;
      d.borderSize = 0.35;
    }
    // small deadlocks' labels always (laid out not to collide); a big one's on hover or zoom
    if (red && this.labelled.has(key)) d.forceLabel = true;
    if (this.focus && !this.focus.has(key)) {
      d.color = COLORS.dim;
      d.borderColor = COLORS.dim;
      d.label = '';
      d.forceLabel = false;
      d.zIndex = 0;
    } else if (this.focus) {
      d.forceLabel = this.focus.size <= LABELLED_MAX_NODES;
      d.zIndex = 3;
    }
    return d;
  }

  edgeDisplay(key, a) {
    // waits are drawn dashed by drawWaits(); sigma draws only the holds
    if (a.kind === 'waits') return { hidden: true };
    const [s, t] = this.graph.extremities(key);
    const red = edgeDeadlocked(this.graph, s, t);
    const dim = this.isDimmed(s, t);
    // between the small dots of a big deadlock a thick arrow would hide the dots
    const size = this.smallNodes.has(s) && this.smallNodes.has(t) ? 1 : red ? 3 : 2;
    return { color: dim ? COLORS.dim : red ? COLORS.red : COLORS.hold, size, zIndex: red ? 1 : 0 };
  }

  /** an edge is dimmed while a focus is on and it does not join two focused nodes */
  isDimmed(source, target) {
    return Boolean(this.focus && !(this.focus.has(source) && this.focus.has(target)));
  }

  /** The colour a wait (dashed, drawn by drawWaits) is drawn in. */
  waitColor(source, target) {
    if (this.isDimmed(source, target)) return COLORS.dim;
    return edgeDeadlocked(this.graph, source, target) ? COLORS.red : COLORS.wait;
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
      const color = this.waitColor(source, target);
      const thin = this.smallNodes.has(source) && this.smallNodes.has(target);
      const head = thin ? 5 : red ? 11 : 9;
      const sx = p.x + ux * rs;
      const sy = p.y + uy * rs;
      const ex = q.x - ux * (rt + 1);
      const ey = q.y - uy * (rt + 1);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = thin ? 1 : red ? 3 : 2;
      ctx.setLineDash(thin ? [3, 2] : a.aborting ? [2, 4] : [7, 5]);
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

  /** Dim everything but deadlock `id`'s owners, resources and edges, and move the camera onto them; null clears. */
  setFocus(id) {
    // unfocusing zooms back out to the whole graph
    if (!id && this.focusId) this.renderer.getCamera().animatedReset({ duration: 300 });
    this.focusId = id ?? null;
    this.focus = id ? this.deadlockKeys(id) : null;
    if (this.focus && this.focus.size === 0) this.focus = null;
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
