// Turns a found deadlock into the report people read: structured (JSON, for
// REST and the dashboard) and as text in the spirit of a database's deadlock
// message — one line per edge, then each member's holds and waits with their
// age and call site, then the victim and why.
import type { DeadlockReport, ReportEdge, ReportMember } from '@deadlockd/proto';
import type { FoundDeadlock } from './detect.js';
import { EXCLUSIVE, modeOf, type Hold, type Owner, type Resource, type Wait } from './model.js';
import type { DeadlockSignature } from './signature.js';
import { eachStep, runToEnd, STEP, type Steps } from './steps.js';
import { callSite, contextLines, instanceText, ownerContext, traceText } from './report-context.js';

export interface ReportMeta {
  id: string;
  namespace: string;
  detectedAt: number;
}

/** Edge endpoints and victims name owners as `<client>/<owner>`. */
const ownerKey = (o: Owner): string => o.key;

function shape(r: Resource, units: number): { mode?: 'shared' | 'exclusive'; units?: number } {
  if (r.kind === 'rwlock') return { mode: modeOf(r, units) ?? 'shared' };
  if (r.kind === 'semaphore') return { units };
  return {};
}

function holdOf(h: Hold) {
  return { resource: h.resource.key, label: h.resource.label, ...shape(h.resource, h.units), since: h.since };
}

function waitOf(w: Wait) {
  // An upgrade asks for the rest of the units; show it as the mode it asks for.
  const units = w.resource.kind === 'rwlock' && w.mode === 'exclusive' ? EXCLUSIVE : w.units;
  return {
    waitId: w.id,
    resource: w.resource.key,
    label: w.resource.label,
    ...shape(w.resource, units),
    since: w.since,
    ...(w.stack ? { stack: w.stack } : {}),
    ...(w.trace ? { trace: w.trace } : {}),
  };
}

/** how many of the owners only queued on the cycle a report names (the rest are counted) */
const QUEUED_NAMED = 5;

/** For each FIFO wait of a listed member: how many queued-only members wait ahead of it there. */
function queuedAhead(listed: Owner[], queued: ReadonlySet<Owner>, waitsByOwner: Map<Owner, Wait[]>): Map<Wait, number> {
  const out = new Map<Wait, number>();
  if (queued.size === 0) return out;
  for (const o of listed)
    for (const w of waitsByOwner.get(o) ?? []) {
      if (!w.resource.fifo) continue;
      let n = 0;
      for (const q of w.resource.inGrantOrder()) {
        if (q === w) break;
        if (!q.aborting && queued.has(q.owner)) n++;
      }
      if (n > 0) out.set(w, n);
    }
  return out;
}

/** How much one report lists; everything beyond is counted, never dropped silently. */
export interface ReportLimits {
  maxReportMembers: number;
  maxReportHolds: number;
  maxReportEdges: number;
}

/**
 * At most `max` of the items, and how many there were. Walks them all (counting is
 * cheap) but builds only the ones it keeps: an owner with 40,000 holds must not cost
 * 40,000 report objects — that once made an abort frame of 55 MB.
 */
function capped<T, U>(items: Iterable<T>, keep: (x: T) => boolean, max: number, build: (x: T) => U): { list: U[]; total: number } {
  return runToEnd(cappedSteps(items, keep, max, build));
}

/** capped(), pausing every STEP items (a ring's 30,000 edges) */
function* cappedSteps<T, U>(items: Iterable<T>, keep: (x: T) => boolean, max: number, build: (x: T) => U): Steps<{ list: U[]; total: number }> {
  const list: U[] = [];
  let total = 0;
  yield* eachStep(items, (x) => {
    if (!keep(x)) return;
    total++;
    if (list.length < max) list.push(build(x));
  });
  return { list, total };
}

/** The report, in steps (steps.ts): its passes over every member, wait and edge pause, as the search's do. */
export function* buildReportSteps(f: FoundDeadlock, meta: ReportMeta, limits: ReportLimits, signature: DeadlockSignature): Steps<DeadlockReport> {
  const queued = new Set(f.queued);
  // the victims first: a cut-short report still says who was aborted and what it held. Only
  // the listed members are gathered (a ring of 30,000 lists 100): the rest are counted.
  const ordered: Owner[] = [];
  const listed = new Set<Owner>();
  let membersTotal = 0;
  const list = (o: Owner): void => {
    if (listed.has(o)) return;
    membersTotal++;
    if (ordered.length >= limits.maxReportMembers) return;
    listed.add(o);
    ordered.push(o);
  };
  for (const v of f.victims) list(v.owner);
  const victimOwners = new Set(f.victims.map((v) => v.owner));
  yield* eachStep(f.members, (o) => {
    if (!queued.has(o) && !victimOwners.has(o)) list(o);
  });
  const waitsByOwner = new Map<Owner, Wait[]>();
  yield* eachStep(f.waits, (w) => {
    if (!listed.has(w.owner)) return;
    const ws = waitsByOwner.get(w.owner);
    if (ws) ws.push(w);
    else waitsByOwner.set(w.owner, [w]);
  });
  const ahead = queuedAhead(ordered, queued, waitsByOwner);
  const members: ReportMember[] = ordered.map((o) => {
    const holds = capped(o.allHolds(), (h) => h.resource.kind !== 'task', limits.maxReportHolds, holdOf);
    const waits = capped(waitsByOwner.get(o) ?? [], () => true, limits.maxReportHolds, waitOf);
    return {
      owner: o.id,
      name: o.name,
      service: o.client.info.service,
      client: o.client.info.id,
      ...ownerContext(o),
      priority: o.priority,
      holds: holds.list,
      waits: waits.list,
      ...(holds.total > holds.list.length ? { holdsTotal: holds.total } : {}),
      ...(waits.total > waits.list.length ? { waitsTotal: waits.total } : {}),
    };
  });
  // Edges out of the listed members: a soft one may point at a queued-only owner (the nearest
  // one ahead); the edges among queued-only owners themselves are left out.
  if (f.members.length >= STEP) yield;
  const edges = yield* cappedSteps(f.edges, (e) => listed.has(e.from), limits.maxReportEdges, (e) => ({
    from: ownerKey(e.from),
    to: ownerKey(e.to),
    resource: e.wait.resource.key,
    kind: e.kind,
  }) satisfies ReportEdge);
  if (f.edges.length >= STEP) yield;
  const v = f.victims[0];
  const report: DeadlockReport = {
    id: meta.id,
    namespace: meta.namespace,
    detectedAt: meta.detectedAt,
    members,
    edges: edges.list,
    ...(queued.size > 0 ? { queued: { count: queued.size, owners: f.queued.slice(0, QUEUED_NAMED).map(ownerKey) } } : {}),
    victim: v ? { owner: ownerKey(v.owner), waitId: v.wait.id, reason: v.reason } : null,
    resolution: f.victims.length > 0 ? 'aborting' : f.reorders.length > 0 ? 'reordering' : 'unresolvable',
    text: '',
    ...(membersTotal > members.length ? { membersTotal } : {}),
    ...(f.edges.length > edges.list.length ? { edgesTotal: f.edges.length } : {}),
    ...signature,
  };
  const queuedNote = new Map<string, number>();
  for (const [w, n] of ahead) queuedNote.set(`${w.owner.key}\u0000${w.resource.key}`, n);
  const moreVictims = f.victims.slice(1);
  report.text = renderReportText(
    report,
    moreVictims.slice(0, limits.maxReportMembers).map((x) => `${ownerKey(x.owner)} (wait ${x.wait.id})`),
    Math.max(0, moreVictims.length - limits.maxReportMembers),
    queuedNote,
  );
  for (const m of f.reorders)
    report.text += `\nreorder: ${m.resource.label}: ${m.waits.map((w) => `${who(undefined, ownerKey(w.owner))} (wait ${w.id})`).join(', ')} moved to the front of the queue`;
  return report;
}

// ---- text ---------------------------------------------------------------------

const who = (m: ReportMember | undefined, key: string): string =>
  m ? `task '${m.name}' (${m.service})` : `owner ${key}`;

function ago(since: number | undefined, at: number): string {
  if (since === undefined) return '';
  const ms = Math.max(0, at - since);
  return ms < 10_000 ? ` for ${Math.round(ms)} ms` : ` for ${(ms / 1000).toFixed(1)} s`;
}

function what(x: { label: string; mode?: string | undefined; units?: number | undefined }): string {
  if (x.mode) return `${x.label} (${x.mode})`;
  if (x.units !== undefined) return `${x.units} unit${x.units === 1 ? '' : 's'} of ${x.label}`;
  return x.label;
}

const more = (n: number, what: string): string => `and ${n} more ${what}${n === 1 ? '' : 's'}`;

export function renderReportText(
  r: DeadlockReport,
  moreVictims: string[] = [],
  victimsNotListed = 0,
  /** `<owner key>\0<resource key>` → queued-only owners ahead of that wait */
  queuedAheadOf: ReadonlyMap<string, number> = new Map(),
): string {
  const byKey = new Map(r.members.map((m) => [`${m.client}/${m.owner}`, m]));
  const lines: string[] = [];
  lines.push(
    `deadlock ${r.id} detected at ${new Date(r.detectedAt).toISOString()} in namespace '${r.namespace}' ` +
      `(${r.membersTotal ?? r.members.length} member${(r.membersTotal ?? r.members.length) === 1 ? '' : 's'})`,
  );
  // One line per (waiter, resource): "X waits for R held by Y and Z" / "queued behind Y (FIFO)".
  const grouped = new Map<string, { from: string; resource: string; hard: string[]; soft: string[] }>();
  for (const e of r.edges) {
    const k = `${e.from}\u0000${e.resource}`;
    let g = grouped.get(k);
    if (!g) grouped.set(k, (g = { from: e.from, resource: e.resource, hard: [], soft: [] }));
    (e.kind === 'hard' ? g.hard : g.soft).push(e.to);
  }
  // A member whose only edge on a resource went to queued-only owners still gets its line.
  for (const k of queuedAheadOf.keys()) {
    const [from, resource] = k.split('\u0000') as [string, string];
    if (!grouped.has(k)) grouped.set(k, { from, resource, hard: [], soft: [] });
  }
  for (const [k, g] of grouped) {
    const m = byKey.get(g.from);
    const w = m?.waits.find((x) => x.resource === g.resource);
    const target = w ? what(w) : g.resource;
    const parts: string[] = [];
    if (g.hard.length) parts.push(`held by ${g.hard.map((k) => (k === g.from ? 'itself' : who(byKey.get(k), k))).join(' and ')}`);
    const n = queuedAheadOf.get(k) ?? 0;
    // queued-only owners ahead are counted, not named one by one
    const soft = g.soft.filter((k) => n === 0 || byKey.has(k)).map((k) => who(byKey.get(k), k));
    if (n > 0) soft.push(`${n} queued owner${n === 1 ? '' : 's'}`);
    if (soft.length) parts.push(`queued behind ${soft.join(' and ')} (FIFO)`);
    lines.push(`  ${who(m, g.from)} waits for ${target}, ${parts.join(', ')}`);
  }
  if (r.edgesTotal !== undefined) lines.push(`  … ${more(r.edgesTotal - r.edges.length, 'edge')}`);
  lines.push('members:');
  for (const m of r.members) {
    const where = instanceText(m);
    lines.push(`  ${who(m, m.owner)} — ${where ? `${where}, ` : ''}client ${m.client}, owner ${m.owner}, priority ${m.priority}`);
    lines.push(...contextLines(m, '    '));
    for (const h of m.holds) lines.push(`    holds ${what(h)}${ago(h.since, r.detectedAt)}`);
    if (m.holdsTotal !== undefined) lines.push(`    … ${more(m.holdsTotal - m.holds.length, 'hold')}`);
    if (m.holds.length === 0) lines.push('    holds nothing');
    for (const w of m.waits) {
      lines.push(`    waits for ${what(w)}${ago(w.since, r.detectedAt)} (wait ${w.waitId})`);
      if (w.stack) for (const f of callSite(w.stack)) lines.push(`      ${f}`);
      if (w.trace && (w.trace.traceId !== m.trace?.traceId || w.trace.spanId !== m.trace?.spanId)) lines.push(`      in ${traceText(w.trace)}`);
    }
    if (m.waitsTotal !== undefined) lines.push(`    … ${more(m.waitsTotal - m.waits.length, 'wait')}`);
  }
  if (r.membersTotal !== undefined) lines.push(`  … ${more(r.membersTotal - r.members.length, 'member')} (--max-report-members)`);
  if (r.queued) {
    const left = r.queued.count - r.queued.owners.length;
    lines.push(
      `queued: ${r.queued.count} owner${r.queued.count === 1 ? '' : 's'} on the cycle only by waiting in a FIFO queue, holding nothing it needs (not victims): ` +
        r.queued.owners.join(', ') + (left > 0 ? ` and ${left} more` : ''),
    );
  }
  if (r.victim) {
    const vm = byKey.get(r.victim.owner);
    lines.push(`victim: ${who(vm, r.victim.owner)}, wait ${r.victim.waitId} aborted — ${r.victim.reason}`);
    if (moreVictims.length) lines.push(`also aborted: ${moreVictims.join(', ')}${victimsNotListed > 0 ? `, ${more(victimsNotListed, 'victim')}` : ''}`);
  } else if (r.resolution === 'reordering') {
    lines.push('victim: none — resolved by moving waits ahead in a FIFO queue (no abort)');
  } else {
    lines.push('victim: none — no member allows its wait to be aborted; reported only');
  }
  return lines.join('\n');
}
