// Long waits: waits that are no deadlock (or not yet known to be one) but have been pending a
// long time, and what blocks them — what PostgreSQL's log_lock_waits and pg_blocking_pids()
// tell a DBA, for services. Read-only over the engine's model, no I/O: GET /v1/waits lists them,
// the long-wait log (../long-wait-log.ts) writes one line per wait past --log-waits-after-ms,
// and the `deadlockd_oldest_wait_seconds` gauge reads oldestWaitSince().
import type { LockMode, OwnerAttributes, TraceContext } from '@deadlockd/proto';
import type { Engine } from './engine.js';
import { EXCLUSIVE, modeOf, type Hold, type Owner, type Wait } from './model.js';
import { callSite, contextLines, instanceText, ownerContext, traceText } from './report-context.js';

/** Direct blockers listed per wait (the rest are counted in `blockersTotal`). */
const MAX_BLOCKERS_LISTED = 10;

/** An owner as long waits name it. */
interface OwnerRef {
  owner: string;
  client: string;
  name: string;
  service: string;
  instance?: string;
  host?: string;
  pid?: number;
  attributes?: OwnerAttributes;
  trace?: TraceContext;
}

/** Who blocks a wait: a holder of a conflicting share, or (FIFO resources) a wait queued ahead. */
interface Blocker extends OwnerRef {
  how: 'holds' | 'queued-ahead';
  mode?: LockMode;
  units?: number;
  /** since when it holds (how: holds) or waits (how: queued-ahead) */
  since: number;
}

/** One step of a blocking chain: the owner that blocks the previous step, and what it waits for itself. */
interface ChainStep extends Blocker {
  /** its own oldest pending wait, if it waits: the next step blocks that */
  waitsFor?: { waitId: string; resource: string; label: string; since: number };
}

export interface LongWait extends OwnerRef {
  waitId: string;
  resource: string;
  label: string;
  mode?: LockMode;
  units?: number;
  since: number;
  ageMs: number;
  /** a member of a deadlock the daemon found (the book marks it) */
  inDeadlock: boolean;
  stack?: string;
  /** the span the wait began in */
  waitTrace?: TraceContext;
  /** the direct blockers, like pg_blocking_pids(): holders first, then waits queued ahead; at most MAX_BLOCKERS_LISTED */
  blockers: Blocker[];
  blockersTotal: number;
  /**
   * From the first blocker on: who blocks whom, each step the primary blocker of the previous
   * step's oldest wait, at most --max-wait-chain steps. `chainEnd` says why it stopped.
   */
  chain: ChainStep[];
  /** head: the last step waits for nothing (look at it); cycle: it leads back into the chain (a deadlock); cut: --max-wait-chain; none: no blocker */
  chainEnd: 'head' | 'cycle' | 'cut' | 'none';
}

function ownerRef(o: Owner): OwnerRef {
  return { owner: o.id, client: o.client.info.id, name: o.name, service: o.client.info.service, ...ownerContext(o) };
}

const isExclusiveAsk = (w: Wait): boolean => w.mode === 'exclusive' || w.units >= EXCLUSIVE;

/** Does this hold keep the wait from being granted? */
function holdBlocks(h: Hold, w: Wait): boolean {
  if (w.resource.kind !== 'rwlock') return true; // a mutex (its holder, itself included), any holder of a semaphore, a task
  if (h.owner === w.owner) return h.units >= EXCLUSIVE; // an upgrade waits for the others, not for itself
  return h.units >= EXCLUSIVE || isExclusiveAsk(w);
}

function shapeOfHold(h: Hold): { mode?: LockMode; units?: number } {
  if (h.resource.kind === 'rwlock') return { mode: modeOf(h.resource, h.units) as LockMode };
  if (h.resource.kind === 'semaphore') return { units: h.units };
  return {};
}

function shapeOfWait(w: Wait): { mode?: LockMode; units?: number } {
  if (w.resource.kind === 'rwlock') return { mode: w.mode ?? (w.units >= EXCLUSIVE ? 'exclusive' : 'shared') };
  if (w.resource.kind === 'semaphore') return { units: w.units };
  return {};
}

/** The direct blockers of `w`, holders (oldest hold first) then the waits ahead of it in a FIFO queue. */
function blockersOf(w: Wait, max: number): { list: Blocker[]; total: number; primary: Owner | undefined } {
  const holds: Hold[] = [];
  for (const h of w.resource.allHolds()) if (holdBlocks(h, w)) holds.push(h);
  holds.sort((a, b) => a.since - b.since);
  const list: Blocker[] = [];
  let total = holds.length;
  for (const h of holds.slice(0, max)) list.push({ ...ownerRef(h.owner), how: 'holds', ...shapeOfHold(h), since: h.since });
  let firstAhead: Owner | undefined;
  if (w.resource.fifo) {
    for (const q of w.resource.inGrantOrder()) {
      if (q === w) break;
      if (q.aborting || q.owner === w.owner) continue;
      firstAhead ??= q.owner;
      total++;
      if (list.length < max) list.push({ ...ownerRef(q.owner), how: 'queued-ahead', ...shapeOfWait(q), since: q.since });
    }
  }
  return { list, total, primary: holds[0]?.owner ?? firstAhead };
}

function oldestWaitOf(o: Owner): Wait | undefined {
  let best: Wait | undefined;
  for (const w of o.waits) if (!w.aborting && (best === undefined || w.since < best.since)) best = w;
  return best;
}

/** Walk from `w`'s primary blocker to the owner at the head (one that waits for nothing), at most `maxChain` steps. */
function chainOf(w: Wait, maxChain: number): { chain: ChainStep[]; end: LongWait['chainEnd'] } {
  const chain: ChainStep[] = [];
  const seen = new Set<Owner>([w.owner]);
  let current = w;
  for (;;) {
    const { list, primary } = blockersOf(current, 1);
    if (primary === undefined || list[0] === undefined) return { chain, end: chain.length === 0 ? 'none' : 'head' };
    if (seen.has(primary)) return { chain, end: 'cycle' };
    if (chain.length === maxChain) return { chain, end: 'cut' };
    seen.add(primary);
    const next = oldestWaitOf(primary);
    const step: ChainStep = { ...list[0] };
    if (next === undefined) {
      chain.push(step);
      return { chain, end: 'head' };
    }
    step.waitsFor = { waitId: next.id, resource: next.resource.key, label: next.resource.label, since: next.since };
    chain.push(step);
    current = next;
  }
}

/** One pending wait, as a long wait: who, what, since when, blocked by whom. */
export function describeWait(w: Wait, now: number, maxChain: number): LongWait {
  const { list, total } = blockersOf(w, MAX_BLOCKERS_LISTED);
  const { chain, end } = chainOf(w, maxChain);
  return {
    waitId: w.id,
    ...ownerRef(w.owner),
    resource: w.resource.key,
    label: w.resource.label,
    ...shapeOfWait(w),
    since: w.since,
    ageMs: Math.max(0, now - w.since),
    inDeadlock: (w.deadlocks?.length ?? 0) > 0,
    ...(w.stack ? { stack: w.stack } : {}),
    ...(w.trace ? { waitTrace: w.trace } : {}),
    blockers: list,
    blockersTotal: total,
    chain,
    chainEnd: end,
  };
}

/**
 * The pending waits older than `olderThanMs`, oldest first, at most `limit` of them (and how many
 * there were), each with its blockers and blocking chain: log_lock_waits, asked for at any time.
 */
export function longWaits(engine: Engine, opts: { now: number; olderThanMs: number; limit: number; maxChain: number }): { total: number; waits: LongWait[] } {
  const old: Wait[] = [];
  for (const c of engine.clients.values()) for (const w of c.waits.values()) if (opts.now - w.since >= opts.olderThanMs) old.push(w);
  old.sort((a, b) => a.since - b.since || a.seq - b.seq);
  return { total: old.length, waits: old.slice(0, opts.limit).map((w) => describeWait(w, opts.now, opts.maxChain)) };
}

/** Pending waits per client looked at by oldestWaitSince (a client's waits are kept in the order they were reported). */
const OLDEST_PER_CLIENT = 16;

/**
 * The `since` of the oldest pending wait, or undefined if nothing waits. Cheap at every scrape:
 * a client's waits are in report order, which is begin order for an SDK (it reports in the order
 * waits began), so the oldest is among the first of each client; the first 16 are looked at, so
 * that waits reported slightly out of order (threads) are still found. O(clients), not O(waits).
 */
export function oldestWaitSince(engine: Engine): number | undefined {
  let oldest: number | undefined;
  for (const c of engine.clients.values()) {
    let n = 0;
    for (const w of c.waits.values()) {
      if (oldest === undefined || w.since < oldest) oldest = w.since;
      if (++n === OLDEST_PER_CLIENT) break;
    }
  }
  return oldest;
}

// ---- text ---------------------------------------------------------------------

const who = (o: { name: string; service: string }): string => `task '${o.name}' (${o.service})`;

function age(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function what(x: { label: string; mode?: string | undefined; units?: number | undefined }): string {
  if (x.mode) return `${x.label} (${x.mode})`;
  if (x.units !== undefined) return `${x.units} unit${x.units === 1 ? '' : 's'} of ${x.label}`;
  return x.label;
}

function header(o: OwnerRef): string {
  const where = instanceText(o);
  return `${who(o)} — ${where ? `${where}, ` : ''}client ${o.client}, owner ${o.owner}`;
}

/** The log line of a long wait, shaped like a deadlock report: the waiter, its blockers, the chain to its head. */
export function renderLongWait(lw: LongWait, namespace: string, now: number): string {
  const lines: string[] = [];
  lines.push(`long wait ${lw.waitId} in namespace '${namespace}': ${who(lw)} has waited ${age(lw.ageMs)} for ${what(lw)}${lw.inDeadlock ? ' (a member of a deadlock being resolved)' : ''}`);
  lines.push(`  ${header(lw)}`);
  lines.push(...contextLines(lw, '    '));
  lines.push(`    waits for ${what(lw)} for ${age(lw.ageMs)} (wait ${lw.waitId})`);
  if (lw.stack) for (const f of callSite(lw.stack)) lines.push(`      ${f}`);
  if (lw.waitTrace && (lw.waitTrace.traceId !== lw.trace?.traceId || lw.waitTrace.spanId !== lw.trace?.spanId)) lines.push(`      in ${traceText(lw.waitTrace)}`);
  if (lw.blockers.length === 0) lines.push('  blocked by: nobody the daemon knows of (the grant may be on its way)');
  else {
    lines.push('  blocked by:');
    for (const b of lw.blockers)
      lines.push(`    ${header(b)}: ${b.how === 'holds' ? `holds ${what({ ...b, label: lw.label })} for ${age(now - b.since)}` : `queued ahead (FIFO) for ${age(now - b.since)}`}`);
    if (lw.blockersTotal > lw.blockers.length) lines.push(`    … and ${lw.blockersTotal - lw.blockers.length} more`);
  }
  if (lw.chain.length > 0) {
    lines.push('  blocking chain:');
    lines.push(`    ${who(lw)} waits for ${lw.label}`);
    let label = lw.label;
    for (const s of lw.chain) {
      const by = s.how === 'holds' ? `held by ${who(s)} for ${age(now - s.since)}` : `queued behind ${who(s)}`;
      const then = s.waitsFor ? `, which waits for ${s.waitsFor.label} for ${age(now - s.waitsFor.since)} (wait ${s.waitsFor.waitId})` : ', which waits for nothing: the head of the chain';
      lines.push(`    ${label} ${by}${s.instance ? ` (${instanceText(s)})` : ''}${then}`);
      if (s.waitsFor) label = s.waitsFor.label;
    }
    if (lw.chainEnd === 'cycle') lines.push('    … which leads back into the chain: a deadlock');
    if (lw.chainEnd === 'cut') lines.push('    … (--max-wait-chain)');
  }
  return lines.join('\n');
}
