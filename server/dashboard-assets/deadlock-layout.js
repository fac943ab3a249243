// Where the graph's nodes go on screen: the background (the server's stable
// positions, scaled to fit) on the left, every current deadlock drawn apart in
// a band on the right, each as its own ring in cycle order, its labels clear
// of each other.
//
// Why here and not on the server: labels are a fixed size in pixels while
// positions are scaled to the viewport, so only the page knows whether two
// labels collide. The plan is made in viewport pixels at the default camera
// (zooming in only spreads nodes apart) and converted to graph coordinates
// through a fixed bounding box, so sigma's fit-to-screen does not rescale it.
// Collision avoidance is a small rectangle-separation pass over the label
// boxes (graphology-layout-noverlap works on circles in graph units, and ships
// no browser bundle).

/** A ring of up to this many nodes (owners + resources) gets all its labels; bigger ones show labels on hover/zoom. */
export const LABELLED_MAX_NODES = 16;
const MARGIN_PX = 24;
/** between the background and the band */
const GAP_PX = 64;
/** between two deadlocks in the band */
const GROUP_GAP_PX = 28;
/** around each label box */
const PAD_PX = 3;
const DEFAULT_CAMERA = { x: 0.5, y: 0.5, angle: 0, ratio: 1 };

/**
 * The nodes of each current deadlock, in cycle order (owner, the resource it
 * waits for, that resource's holder, …), a node in two deadlocks only in the
 * first. The order is walked in the graph itself (waits go owner → resource,
 * holds resource → owner: following them goes round the cycle), from the
 * report's first member; a report lists only the first members of a big
 * deadlock. Nodes marked with a deadlock the frame does not list (a race) form
 * a group of their own.
 */
export function deadlockGroups(graph, cycles) {
  const taken = new Set();
  const members = new Map();
  graph.forEachNode((k, a) => {
    for (const id of Array.isArray(a.deadlocks) ? a.deadlocks : []) members.set(id, [...(members.get(id) ?? []), k]);
  });
  const groups = [];
  const add = (id, start) => {
    const left = new Set((members.get(id) ?? []).filter((k) => !taken.has(k)));
    const ring = [];
    let cur = start !== undefined && left.has(start) ? start : [...left].sort()[0];
    while (cur !== undefined) {
      left.delete(cur);
      taken.add(cur);
      ring.push(cur);
      const from = cur;
      cur = graph.outNeighbors(from).find((n) => left.has(n));
      // off the cycle's path (a node in the cycle twice over, or a branch): carry on from another
      if (cur === undefined && left.size > 0) cur = [...left].sort()[0];
    }
    if (ring.length > 0) groups.push({ id, keys: ring });
  };
  for (const c of cycles) {
    const first = c.report.members[0];
    add(c.id, first ? `o:${first.client}/${first.owner}` : undefined);
  }
  for (const id of [...members.keys()].sort()) add(id);
  return groups;
}

/** Pushes overlapping rectangles apart (along the axis they overlap least) until none overlap. */
export function separate(items, maxRounds = 400) {
  for (let round = 0; round < maxRounds; round++) {
    let moved = false;
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const a = items[i];
        const b = items[j];
        const ox = Math.min(a.x + a.x1, b.x + b.x1) - Math.max(a.x + a.x0, b.x + b.x0);
        const oy = Math.min(a.y + a.y1, b.y + b.y1) - Math.max(a.y + a.y0, b.y + b.y0);
        if (ox <= 0 || oy <= 0) continue;
        moved = true;
        // labels are wide and short: moving up/down is almost always the cheaper way out
        if (oy <= ox) {
          const d = oy / 2 + 0.5;
          const dir = a.y < b.y || (a.y === b.y && i < j) ? -1 : 1;
          a.y += dir * d;
          b.y -= dir * d;
        } else {
          const d = ox / 2 + 0.5;
          const dir = a.x < b.x || (a.x === b.x && i < j) ? -1 : 1;
          a.x += dir * d;
          b.x -= dir * d;
        }
      }
    }
    if (!moved) return true;
  }
  return false;
}

/**
 * One deadlock's ring, in pixels relative to its own top-left corner: the
 * nodes' offsets, which side their labels go, and the group's size.
 * `box(key, side)` is a node's footprint relative to its centre ({x0, x1, y0,
 * y1}: its disc, and its label when drawn, on that side). Labels on the left
 * half of a ring go left, so a ring needs no room inside for them.
 */
function planRing(keys, box, labelled, maxRadius) {
  const k = keys.length;
  const sides = keys.map((_, i) => (labelled && Math.cos(Math.PI + (2 * Math.PI * i) / k) < -1e-6 ? 'left' : 'right'));
  const boxes = keys.map((key, i) => box(key, sides[i]));
  const tallest = Math.max(...boxes.map((b) => b.y1 - b.y0));
  let r;
  if (k === 1) r = 0;
  else if (labelled) r = Math.max(56, (k * (tallest + 12)) / (2 * Math.PI));
  // unlabelled: discs only, a little apart (the footprint's padding is for labels)
  const spacing = tallest - 2 * PAD_PX + 2;
  if (!labelled) r = Math.max(30, (k * spacing) / (2 * Math.PI));
  const items =
    !labelled && r > maxRadius
      ? spiral(k, spacing, maxRadius).map((p, i) => ({ key: keys[i], side: sides[i], ...p, ...boxes[i] }))
      : keys.map((key, i) => {
          const angle = Math.PI + (2 * Math.PI * i) / k; // first node on the left, clockwise on screen
          return { key, side: sides[i], x: r * Math.cos(angle), y: -r * Math.sin(angle), ...boxes[i] };
        });
  if (labelled) separate(items);
  const minX = Math.min(...items.map((it) => it.x + it.x0));
  const minY = Math.min(...items.map((it) => it.y + it.y0));
  const maxX = Math.max(...items.map((it) => it.x + it.x1));
  const maxY = Math.max(...items.map((it) => it.y + it.y1));
  return { nodes: items.map((it) => ({ key: it.key, side: it.side, x: it.x - minX, y: it.y - minY })), w: maxX - minX, h: maxY - minY };
}

/**
 * `k` points `spacing` apart along an Archimedean spiral whose turns are
 * `spacing` apart, scaled down to `maxRadius` if it comes out bigger: a cycle
 * too long for a circle that fits, still read in order from the centre out.
 */
function spiral(k, spacing, maxRadius) {
  const pts = [];
  const b = spacing / (2 * Math.PI);
  let theta = 2 * Math.PI;
  for (let i = 0; i < k; i++) {
    const r = b * theta;
    pts.push({ x: r * Math.cos(theta), y: r * Math.sin(theta) });
    theta += spacing / r;
  }
  const outer = b * theta;
  const scale = outer > maxRadius ? maxRadius / outer : 1;
  return pts.map((p) => ({ x: p.x * scale, y: p.y * scale }));
}

/** Columns of rings, top to bottom, each column at most `height` tall. */
function packColumns(rings, height) {
  const columns = [];
  let col = null;
  for (const ring of rings) {
    if (!col || (col.h + GROUP_GAP_PX + ring.h > height && col.rings.length > 0)) {
      col = { rings: [], w: 0, h: -GROUP_GAP_PX };
      columns.push(col);
    }
    col.rings.push({ ring, y: col.h + GROUP_GAP_PX });
    col.h += GROUP_GAP_PX + ring.h;
    col.w = Math.max(col.w, ring.w);
  }
  const width = columns.reduce((s, c) => s + c.w, 0) + GROUP_GAP_PX * Math.max(0, columns.length - 1);
  return { columns, width };
}

/**
 * Places every node of `graph` (x/y attributes): background into the left
 * part of a `width`×`height` viewport, deadlock groups into the band on its
 * right. `box(key, labelled, side)` gives a node's footprint in pixels; `toGraph`
 * converts a viewport point (default camera) to graph coordinates. Returns
 * the keys whose labels must be drawn (the labelled rings). Sets each
 * deadlocked node's `labelSide` ('left' or 'right').
 */
export function placeNodes({ graph, groups, width, height, box, toGraph }) {
  const labelledKeys = new Set();
  const innerH = Math.max(40, height - 2 * MARGIN_PX);
  const maxBand = width * 0.6;
  for (const g of groups) if (g.keys.length <= LABELLED_MAX_NODES) for (const k of g.keys) labelledKeys.add(k);
  // big rings shrink until everything fits the band (labelled ones cannot: their labels are a fixed size)
  const alone = graph.order === groups.reduce((n, g) => n + g.keys.length, 0);
  let maxRadius = Math.min(innerH, (alone ? width : maxBand) - 2 * MARGIN_PX) / 2;
  let rings;
  let packed;
  for (let attempt = 0; attempt < 12; attempt++) {
    rings = groups.map((g) => {
      const labelled = g.keys.length <= LABELLED_MAX_NODES;
      return planRing(g.keys, (k, side) => pad(box(k, labelled, side)), labelled, maxRadius);
    });
    packed = packColumns(rings, innerH);
    if (packed.width + 2 * MARGIN_PX <= (alone ? width : maxBand) || maxRadius < 20) break;
    maxRadius *= 0.8;
  }
  const inGroups = new Set(groups.flatMap((g) => g.keys));
  // with nothing else to draw, the deadlocks have the whole width (alone)
  const band = rings.length === 0 ? 0 : alone ? width : Math.min(maxBand, Math.max(width * 0.28, packed.width + 2 * MARGIN_PX));

  // background: the server's positions, scaled uniformly (keeping its shape) into the left part
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  graph.forEachNode((k, a) => {
    if (inGroups.has(k)) return;
    minX = Math.min(minX, a.x);
    maxX = Math.max(maxX, a.x);
    minY = Math.min(minY, a.y);
    maxY = Math.max(maxY, a.y);
  });
  if (minX <= maxX) {
    const left = MARGIN_PX;
    const right = width - MARGIN_PX - (band > 0 ? band + GAP_PX - MARGIN_PX : 0);
    // room on the right of each background node for the start of its label
    const areaW = Math.max(20, right - left - 60);
    const areaH = innerH;
    const spanX = maxX - minX || 1;
    const spanY = maxY - minY || 1;
    const k = Math.min(areaW / spanX, areaH / spanY);
    const ox = left + (areaW - spanX * k) / 2;
    const oy = MARGIN_PX + (areaH - spanY * k) / 2;
    graph.forEachNode((key, a) => {
      if (inGroups.has(key)) return;
      // the server's y grows upwards, the viewport's downwards
      const p = toGraph({ x: ox + (a.x - minX) * k, y: oy + (maxY - a.y) * k });
      graph.mergeNodeAttributes(key, p);
    });
  }

  let x = width - band + Math.max(MARGIN_PX, (band - packed.width) / 2);
  for (const col of packed.columns) {
    const top = MARGIN_PX + Math.max(0, (innerH - col.h) / 2);
    for (const { ring, y } of col.rings) {
      const dx = x + (col.w - ring.w) / 2;
      for (const n of ring.nodes) graph.mergeNodeAttributes(n.key, { ...toGraph({ x: dx + n.x, y: top + y + n.y }), labelSide: n.side });
    }
    x += col.w + GROUP_GAP_PX;
  }
  return labelledKeys;
}

function pad(b) {
  return { x0: b.x0 - PAD_PX, x1: b.x1 + PAD_PX, y0: b.y0 - PAD_PX, y1: b.y1 + PAD_PX };
}

/**
 * Fixes sigma's frame to the viewport's size in graph units and returns the
 * viewport→graph conversion at the default camera. (The frame is a bounding
 * box of [0, width] × [0, height]; sigma fits it inside its padding.) Sigma
 * normalizes graph coordinates by the box in its next render; the same
 * normalization is applied here so the conversion is right at once.
 */
export function frameViewport(renderer, width, height) {
  const bbox = renderer.getCustomBBox();
  if (!bbox || bbox.x[1] !== width || bbox.y[1] !== height) {
    renderer.setCustomBBox({ x: [0, width], y: [0, height] });
  }
  const ratio = Math.max(width, height) || 1;
  const framed = (p) => ({ x: 0.5 + (p.x - width / 2) / ratio, y: 0.5 + (p.y - height / 2) / ratio });
  const o = { cameraState: DEFAULT_CAMERA };
  const p0 = renderer.framedGraphToViewport(framed({ x: 0, y: 0 }), o);
  const p1 = renderer.framedGraphToViewport(framed({ x: width, y: height }), o);
  const ax = (p1.x - p0.x) / width;
  const ay = (p1.y - p0.y) / height;
  return (v) => ({ x: p0.x === p1.x ? v.x : (v.x - p0.x) / ax, y: p0.y === p1.y ? v.y : (v.y - p0.y) / ay });
}
