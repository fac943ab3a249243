// One deadlock drawn as a small SVG, from its report alone (members and
// edges), so a history entry keeps its picture after the graph moved on.
// Pure (no DOM): the daemon imports this same module to serve the picture at
// GET /v1/deadlocks/:id/svg.
// Up to RING_MAX members, owners sit on a circle in cycle order; each edge
// "A waits for R held by B" becomes A ┄┄▸ R ──▸ B with the resource between its
// two owners. The victim gets a dark outline and a tag. A bigger cycle does not
// fit a circle in 420 px (20 members overlapped, 197 were a red blob): it is
// drawn as a list instead, one row per member in cycle order, "A ┄▸ R" with an
// arrow to the next row's holder, under a summary of the services involved,
// at most `maxRows` rows (the rest counted).
// Names are shortened in the middle and kept unique (names.js); each box has
// the full name as its <title>, which the browser shows on hover.
import { esc } from './format.js';
import { middleEllipsis, uniqueShortNames } from './names.js';

/** Above this many members the ring gives way to the list. */
export const RING_MAX = 6;

const W = 420;
const OWNER_H = 34;
const RED = '#dc2626';

const refOf = (m) => `${m.client}/${m.owner}`;
const textWidth = (s, px) => s.length * px * 0.6 + 16;

/** members in the order the edges walk them, so the cycle reads around the circle */
function cycleOrder(report) {
  const next = new Map();
  for (const e of report.edges) if (!next.has(e.from)) next.set(e.from, e.to);
  const order = [];
  const seen = new Set();
  for (const m of report.members) {
    let cur = refOf(m);
    while (cur && !seen.has(cur)) {
      seen.add(cur);
      order.push(cur);
      cur = next.get(cur);
    }
  }
  return order;
}

function resourceLabel(report, key) {
  for (const m of report.members) {
    for (const w of m.waits) if (w.resource === key) return w.label;
    for (const h of m.holds) if (h.resource === key) return h.label;
  }
  return key;
}

function arrow(x1, y1, x2, y2, { color, dashed, gap1 = 0, gap2 = 0 }) {
  const len = Math.hypot(x2 - x1, y2 - y1) || 1;
  const ux = (x2 - x1) / len;
  const uy = (y2 - y1) / len;
  const sx = x1 + ux * gap1;
  const sy = y1 + uy * gap1;
  const ex = x2 - ux * gap2;
  const ey = y2 - uy * gap2;
  const h = 8;
  const head = `${ex},${ey} ${ex - ux * h - uy * h * 0.5},${ey - uy * h + ux * h * 0.5} ${ex - ux * h + uy * h * 0.5},${ey - uy * h - ux * h * 0.5}`;
  return `<line x1="${sx}" y1="${sy}" x2="${ex - ux * h * 0.7}" y2="${ey - uy * h * 0.7}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ''}/><polygon points="${head}" fill="${color}"/>`;
}

/** Distance from a box's centre to its border along the unit direction (ux, uy). */
function boxGap(w, h, ux, uy) {
  const tx = Math.abs(ux) > 1e-6 ? w / 2 / Math.abs(ux) : Infinity;
  const ty = Math.abs(uy) > 1e-6 ? h / 2 / Math.abs(uy) : Infinity;
  return Math.min(tx, ty) + 2;
}

/** Short, unique forms of the members' names, services and resource labels of a report. */
function shortNames(report, order, edges, nameMax, resMax) {
  const byRef = new Map(report.members.map((m) => [refOf(m), m]));
  const names = uniqueShortNames(order.map((ref) => byRef.get(ref)?.name ?? ref), nameMax);
  const services = uniqueShortNames(order.map((ref) => byRef.get(ref)?.service ?? ''), nameMax + 2);
  const resources = uniqueShortNames(edges.map((e) => resourceLabel(report, e.resource)), resMax);
  return { byRef, names, services, resources };
}

/**
 * The picture of a deadlock's cycle as an SVG string: a ring up to RING_MAX
 * members, the list beyond. `maxRows` caps the list's rows (all by default:
 * the standalone SVG over REST has room; the sidebar passes a few).
 */
export function cyclePicture(report, { maxRows = Infinity } = {}) {
  const order = cycleOrder(report);
  if (order.length > RING_MAX) return cycleList(report, order, maxRows);
  return cycleRing(report, order);
}

function cycleRing(report, order) {
  const { byRef, names, services, resources } = shortNames(report, order, report.edges, 22, 20);
  const n = order.length;
  const H = n <= 2 ? 140 : n <= 4 ? 230 : 280;
  const cx = W / 2;
  const cy = H / 2;
  const victim = report.victim?.owner;
  const boxes = new Map();
  for (const ref of order) {
    const m = byRef.get(ref);
    const name = names.get(m?.name ?? ref);
    const service = services.get(m?.service ?? '');
    boxes.set(ref, { name, service, w: Math.max(textWidth(name, 11), textWidth(service, 10)), h: OWNER_H });
  }

  const maxW = Math.max(0, ...[...boxes.values()].map((b) => b.w));
  const rx = Math.min(150, W / 2 - maxW / 2 - 4);
  const ry = n <= 2 ? 0 : H / 2 - 34;
  const pos = new Map();
  order.forEach((ref, i) => {
    const angle = Math.PI + (2 * Math.PI * i) / n; // first member on the left
    pos.set(ref, { x: cx + rx * Math.cos(angle), y: cy + ry * Math.sin(angle) });
  });

  const parts = [];
  // edges: A ┄▸ R ─▸ B, the resource pushed off the chord so two opposite edges between the same pair do not overlap
  const pairs = new Map();
  for (const e of report.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const pairKey = [e.from, e.to].sort().join('|');
    const k = pairs.get(pairKey) ?? 0;
    pairs.set(pairKey, k + 1);
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2;
    // normal pointing away from the centre (or a fixed side for a 2-cycle), alternating for parallel edges
    let nx = mx - cx;
    let ny = my - cy;
    let nl = Math.hypot(nx, ny);
    if (nl < 1) {
      nx = 0;
      ny = -1;
      nl = 1;
    }
    const off = n <= 2 ? 46 : 24;
    const side = k % 2 === 0 ? 1 : -1;
    const r = { x: mx + (nx / nl) * off * side, y: my + (ny / nl) * off * side };
    const label = resources.get(resourceLabel(report, e.resource));
    const rw = textWidth(label, 10);
    const fromBox = boxes.get(e.from);
    const toBox = boxes.get(e.to);
    const d1 = { x: r.x - a.x, y: r.y - a.y };
    const l1 = Math.hypot(d1.x, d1.y) || 1;
    const d2 = { x: b.x - r.x, y: b.y - r.y };
    const l2 = Math.hypot(d2.x, d2.y) || 1;
    parts.push(arrow(a.x, a.y, r.x, r.y, { color: RED, dashed: true, gap1: boxGap(fromBox.w, fromBox.h, d1.x / l1, d1.y / l1), gap2: boxGap(rw, 20, d1.x / l1, d1.y / l1) }));
    parts.push(arrow(r.x, r.y, b.x, b.y, { color: e.kind === 'soft' ? '#94a3b8' : RED, dashed: false, gap1: boxGap(rw, 20, d2.x / l2, d2.y / l2), gap2: boxGap(toBox.w, toBox.h, d2.x / l2, d2.y / l2) }));
    parts.push(
      `<g class="res"><rect x="${r.x - rw / 2}" y="${r.y - 10}" width="${rw}" height="20" rx="10" fill="#fff" stroke="${RED}" stroke-width="1.5"/>` +
        `<text x="${r.x}" y="${r.y + 3.5}" text-anchor="middle" font-size="10" fill="#7f1d1d">${esc(label)}</text>` +
        (e.kind === 'soft' ? `<title>queued behind: FIFO order</title>` : `<title>${esc(resourceLabel(report, e.resource))}</title>`) +
        `</g>`,
    );
  }
  for (const ref of order) {
    const p = pos.get(ref);
    const b = boxes.get(ref);
    const isVictim = ref === victim;
    parts.push(
      `<g class="member" data-ref="${esc(ref)}"><title>${esc(byRef.get(ref)?.name ?? ref)} (${esc(byRef.get(ref)?.service ?? '')})</title><rect x="${p.x - b.w / 2}" y="${p.y - b.h / 2}" width="${b.w}" height="${b.h}" rx="6" fill="${RED}" stroke="${isVictim ? '#0f172a' : RED}" stroke-width="${isVictim ? 3 : 1}"/>` +
        `<text x="${p.x}" y="${p.y - 2}" text-anchor="middle" font-size="11" font-weight="700" fill="#fff">${esc(b.name)}</text>` +
        `<text x="${p.x}" y="${p.y + 11}" text-anchor="middle" font-size="10" fill="#fee2e2">${esc(b.service)}</text>` +
        (isVictim ? `<text x="${p.x}" y="${p.y + b.h / 2 + 12}" text-anchor="middle" font-size="10" font-weight="700" fill="#0f172a">victim</text>` : '') +
        `</g>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" class="picture" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="deadlock ${esc(report.id)}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>`;
}

const LIST_ROW_H = 30;
const LIST_TOP = 44;

/** "payments ×150, checkout ×47": the members counted by service, most first. */
function serviceSummary(report) {
  const counts = new Map();
  for (const m of report.members) counts.set(m.service, (counts.get(m.service) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([s, c]) => `${s} ×${c}`);
}

/** The big-cycle fallback: one row per member, "A ┄▸ R", R ─▸ the next row's A. */
function cycleList(report, order, maxRows) {
  const next = new Map();
  for (const e of report.edges) if (!next.has(e.from)) next.set(e.from, e);
  // a report cut short (--max-report-members) names only some members: the rows stop at the first it does not
  const named = new Set(report.members.map(refOf));
  const known = order.findIndex((ref) => !named.has(ref));
  const shown = order.slice(0, Math.max(1, Math.min(maxRows, known === -1 ? order.length : known)));
  const edges = shown.map((ref) => next.get(ref)).filter(Boolean);
  const { byRef, names, resources } = shortNames(report, shown, edges, 23, 26);
  const total = report.membersTotal ?? report.members.length;
  const hidden = total - shown.length;
  const victim = report.victim?.owner;
  const H = LIST_TOP + shown.length * LIST_ROW_H + (hidden > 0 ? 22 : 4);
  const summary = serviceSummary(report);
  const parts = [
    `<text class="summary" x="8" y="16" font-size="12" font-weight="700" fill="#7f1d1d">${total} tasks in one cycle</text>`,
    `<text x="8" y="32" font-size="10.5" fill="#475569">${esc(summary.slice(0, 4).join(', '))}${summary.length > 4 ? esc(`, ${summary.length - 4} more services`) : ''}${total > report.members.length ? esc(` (of the ${report.members.length} the report names)`) : ''}</text>`,
  ];
  const OX = 8;
  const OW = 182;
  const RX = 226;
  const RW = 186;
  shown.forEach((ref, i) => {
    const y = LIST_TOP + i * LIST_ROW_H;
    const m = byRef.get(ref);
    const full = m?.name ?? ref;
    const isVictim = ref === victim;
    parts.push(
      `<g class="member" data-ref="${esc(ref)}"><title>${esc(full)} (${esc(m?.service ?? '')})${isVictim ? ' — victim' : ''}</title>` +
        `<rect x="${OX}" y="${y}" width="${OW}" height="20" rx="5" fill="${RED}" stroke="${isVictim ? '#0f172a' : RED}" stroke-width="${isVictim ? 3 : 1}"/>` +
        `<text x="${OX + 8}" y="${y + 14}" font-size="11" font-weight="700" fill="#fff">${esc(isVictim ? `${middleEllipsis(full, 14)} · victim` : names.get(full))}</text></g>`,
    );
    const e = next.get(ref);
    if (!e) return;
    const label = resourceLabel(report, e.resource);
    parts.push(arrow(OX + OW, y + 10, RX, y + 10, { color: RED, dashed: true, gap1: 2, gap2: 2 }));
    parts.push(
      `<g class="res"><title>${esc(label)}</title><rect x="${RX}" y="${y}" width="${RW}" height="20" rx="10" fill="#fff" stroke="${RED}" stroke-width="1.5"/>` +
        `<text x="${RX + 10}" y="${y + 14}" font-size="10" fill="#7f1d1d">${esc(resources.get(label))}</text></g>`,
    );
    // held by the next row's task (the last row's holder is the first row's)
    const last = i === order.length - 1;
    if (i < shown.length - 1) {
      parts.push(arrow(RX + 30, y + 20, OX + OW - 30, y + LIST_ROW_H, { color: e.kind === 'soft' ? '#94a3b8' : RED, dashed: false, gap1: 1, gap2: 1 }));
    } else if (last) {
      parts.push(`<text x="${RX + RW}" y="${y + 29}" text-anchor="end" font-size="10" fill="#475569">held by row 1 ↺</text>`);
    }
  });
  if (hidden > 0) {
    parts.push(`<text class="more" x="8" y="${H - 6}" font-size="11" fill="#475569">… and ${hidden} more member${hidden === 1 ? '' : 's'} (see the report)</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" class="picture cycle-list" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="deadlock ${esc(report.id)}: ${total} members" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>`;
}
