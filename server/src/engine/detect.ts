// Deadlock detection: the cycle filter (step 1), the reduction (step 2, in
// reduction.ts), the members, deadlocks behind deadlocks, and the victims.
// README.md in this directory explains the model, when a search runs and why
// no deadlock is missed, and each step; this file follows its sections.
import type { Owner, Resource, Wait } from './model.js';
import { reduce, type ReductionResult } from './reduction.js';
import { stronglyConnected } from './scc.js';
import type { VictimCriterion } from './types.js';

interface BlockEdge {
  from: Owner;
  to: Owner;
  wait: Wait;
  kind: 'hard' | 'soft';
}

export interface FoundDeadlock {
  members: Owner[];
  /** each member's blocked waits */
  waits: Wait[];
  edges: BlockEdge[];
  /** one entry per wait to abort: every blocked wait of each victim owner */
  victims: { owner: Owner; wait: Wait; reason: string }[];
  closer: Owner | undefined;
}

let epoch = 0;

/** how many candidates are tried as the single victim before falling back to several */
const SINGLE_VICTIM_TRIALS = 16;

/**
 * FIFO queues the start waits in. An owner queued behind the start in one of
 * them is soft-blocked by it: reaching such an owner closes a cycle.
 */
function fifoQueuesOf(start: Owner): Resource[] | undefined {
  let qs: Resource[] | undefined;
  for (const w of start.waits) if (!w.aborting && w.resource.fifo) (qs ??= []).push(w.resource);
  return qs;
}

/** Step 1: is there a path of blocked-by edges from `start` back to itself? */
function cycleThrough(start: Owner): boolean {
  const stamp = ++epoch;
  const startQueues = fifoQueuesOf(start);
  const stack: Owner[] = [start];
  start.mark = stamp;
  while (stack.length > 0) {
    const o = stack.pop() as Owner;
    for (const w of o.waits) {
      if (w.aborting) continue;
      const r = w.resource;
      if (o !== start && startQueues?.includes(r)) return true;
      if (r.mark === stamp) continue;
      r.mark = stamp;
      for (const h of r.holderOwners()) {
        if (h === start) return true;
        if (h.mark !== stamp) {
          h.mark = stamp;
          stack.push(h);
        }
      }
      if (!r.fifo) continue;
      for (const q of r.multiWaiters) {
        if (q.mark !== stamp) {
          q.mark = stamp;
          stack.push(q);
        }
      }
    }
  }
  return false;
}

/**
 * Step 1 for a batch with many starts: one Tarjan pass over the same edges
 * instead of one walk per start (a batch of N waits along a chain would
 * otherwise cost N²). Returns the starts that lie on a cycle.
 */
function startsOnCycles(starts: Owner[]): Owner[] {
  if (starts.length === 1) return cycleThrough(starts[0] as Owner) ? starts : [];
  // Soft edges into starts: a waiter on a FIFO queue is blocked by the starts
  // queued ahead of it. One edge to the NEAREST start ahead stands for all of
  // them (that start's own edge continues the chain), so a batch of n waits on
  // one hot queue costs n edges, not n².
  const startsIn = new Map<Resource, Owner[]>();
  for (const s of starts) for (const r of fifoQueuesOf(s) ?? []) (startsIn.get(r) ?? startsIn.set(r, []).get(r)!).push(s);
  const nearestStartAhead = new Map<Wait, Owner>();
  for (const r of startsIn.keys()) {
    const isStart = new Set(startsIn.get(r));
    let last: Owner | undefined;
    for (const w of r.inGrantOrder()) {
      if (last && last !== w.owner) nearestStartAhead.set(w, last);
      if (isStart.has(w.owner) && !w.aborting) last = w.owner;
    }
  }
  const comps = stronglyConnected(starts, function* (o: Owner) {
    for (const w of o.waits) {
      if (w.aborting) continue;
      const r = w.resource;
      yield* r.holderOwners();
      if (!r.fifo) continue;
      for (const q of r.multiWaiters) if (q !== o) yield q;
      const ahead = nearestStartAhead.get(w);
      if (ahead) yield ahead;
    }
  });
  const onCycle = new Set<Owner>();
  for (const c of comps) {
    if (c.length > 1) for (const o of c) onCycle.add(o);
    else {
      const o = c[0] as Owner;
      for (const w of o.waits) if (!w.aborting && w.resource.isHeldBy(o)) onCycle.add(o);
    }
  }
  return starts.filter((s) => onCycle.has(s));
}

/** The owners whose fate decides the starts': reachable owners, with every holder and FIFO queue-mate on the way. */
function scopeFrom(starts: Iterable<Owner>): Set<Owner> {
  const scope = new Set<Owner>();
  const seen = new Set<Resource>();
  const stack: Owner[] = [];
  for (const s of starts) if (!scope.has(s)) (scope.add(s), stack.push(s));
  while (stack.length > 0) {
    const o = stack.pop() as Owner;
    for (const w of o.waits) {
      if (w.aborting || seen.has(w.resource)) continue;
      const r = w.resource;
      seen.add(r);
      const add = (x: Owner): void => {
        if (!scope.has(x)) (scope.add(x), stack.push(x));
      };
      for (const h of r.holderOwners()) add(h);
      if (r.fifo) for (const q of r.queue) add(q.owner);
    }
  }
  return scope;
}

/** Blocked-by edges among stuck owners, after a reduction. */
function blockEdges(o: Owner, red: ReductionResult, aheadOf: Map<Wait, Wait | undefined>): BlockEdge[] {
  const edges: BlockEdge[] = [];
  for (const w of o.liveWaits()) {
    if (red.grantedInSim.has(w)) continue;
    const r = w.resource;
    if (w.units > red.freeAtEnd(r)) {
      for (const h of r.holderOwners()) if (red.stuck.has(h)) edges.push({ from: o, to: h, wait: w, kind: 'hard' });
      // Units granted during the reduction to owners that then stayed stuck are held too.
      if (r.fifo && red.grantedInSim.size > 0)
        for (const q of r.queue)
          if (q !== w && red.grantedInSim.has(q) && red.stuck.has(q.owner) && !r.isHeldBy(q.owner))
            edges.push({ from: o, to: q.owner, wait: w, kind: 'hard' });
    }
    if (r.fifo) {
      const ahead = waitAhead(w, red, aheadOf);
      if (ahead && ahead.owner !== o) edges.push({ from: o, to: ahead.owner, wait: w, kind: 'soft' });
    }
  }
  return edges;
}

/** The closest still-blocked wait of a stuck owner queued ahead of `w` (one soft edge stands for the whole chain ahead). */
function waitAhead(w: Wait, red: ReductionResult, cache: Map<Wait, Wait | undefined>): Wait | undefined {
  if (!cache.has(w)) {
    let prev: Wait | undefined;
    for (const q of w.resource.inGrantOrder()) {
      cache.set(q, prev);
      if (!q.aborting && !red.grantedInSim.has(q) && red.stuck.has(q.owner)) prev = q;
    }
  }
  return cache.get(w);
}

function blockedWaits(o: Owner, red: ReductionResult): Wait[] {
  const out: Wait[] = [];
  for (const w of o.liveWaits()) if (!red.grantedInSim.has(w)) out.push(w);
  return out;
}

/**
 * Finds the deadlocks that `starts` are members of. With `everyComponent`
 * (the periodic sweep) it returns every deadlock among the stuck owners.
 */
export function findDeadlocks(
  starts: Owner[],
  victimOrder: VictimCriterion[],
  opts: { everyComponent?: boolean; scope?: Set<Owner>; unabortable?: (o: Owner) => boolean } = {},
): FoundDeadlock[] {
  const candidates = opts.everyComponent ? starts : startsOnCycles(starts.filter((s) => s.hasLiveWait()));
  if (candidates.length === 0) return [];
  const scope = opts.scope ?? scopeFrom(candidates);
  const red = reduce(scope);
  const roots = candidates.filter((s) => red.stuck.has(s));
  if (roots.length === 0) return [];

  const aheadOf = new Map<Wait, Wait | undefined>();
  const edgesOf = new Map<Owner, BlockEdge[]>();
  const edges = (o: Owner): BlockEdge[] => {
    let e = edgesOf.get(o);
    if (!e) edgesOf.set(o, (e = blockEdges(o, red, aheadOf)));
    return e;
  };
  const comps = stronglyConnected(opts.everyComponent ? red.stuck : roots, function* (o: Owner) {
    for (const e of edges(o)) yield e.to;
  });

  // Tarjan yields components sinks first: one blocked by another comes after it. Once a
  // component has victims, the later ones are judged again as if those victims had unwound:
  // a component that then proceeds only waited behind the first, and aborting one of its
  // members too would be an abort more than needed. One still stuck (behind an unresolvable
  // deadlock, or on its own) is a deadlock of its own.
  const unwinding = new Set<Owner>();
  let now = red;
  const found: FoundDeadlock[] = [];
  for (const comp of comps) {
    const inComp = new Set(comp);
    const closer = opts.everyComponent ? undefined : roots.find((r) => inComp.has(r));
    if (!opts.everyComponent && !closer) continue;
    const only = comp[0] as Owner;
    if (comp.length === 1 && !edges(only).some((e) => e.to === only)) continue;
    if (!comp.some((m) => now.stuck.has(m))) continue;
    const members = comp.sort((a, b) => a.key.localeCompare(b.key));
    const memberEdges = members.flatMap((m) => edges(m).filter((e) => inComp.has(e.to)));
    const waits = members.flatMap((m) => blockedWaits(m, red));
    const victims = chooseVictims(members, scope, red, victimOrder, closer, memberEdges, unwinding, opts.unabortable);
    found.push({ members, waits, edges: memberEdges, victims, closer });
    if (victims.length > 0) {
      for (const v of victims) unwinding.add(v.owner);
      now = reduce(scope, unwinding);
    }
  }
  return found;
}

// ---- victims ----------------------------------------------------------------

function chooseVictims(
  members: Owner[],
  scope: Set<Owner>,
  red: ReductionResult,
  order: VictimCriterion[],
  closer: Owner | undefined,
  edges: BlockEdge[],
  /** victims of deadlocks found before this one in the same search: assumed to unwind */
  unwinding: ReadonlySet<Owner>,
  /** owners that missed a deadline of this deadlock (book.ts): never its victims */
  unabortable: ((o: Owner) => boolean) | undefined,
): { owner: Owner; wait: Wait; reason: string }[] {
  const abortable = (m: Owner): boolean => m.abortable && !unabortable?.(m);
  const victims: { owner: Owner; wait: Wait; reason: string }[] = [];
  // A victim gives up every wait it is blocked in (the reduction assumes it
  // unwinds and finishes); the first is the one that puts it on the cycle.
  const abortWaits = (v: Owner, reason: string) => {
    const first = edges.find((e) => e.from === v)?.wait;
    const all = blockedWaits(v, red);
    const ordered = first ? [first, ...all.filter((w) => w !== first)] : all;
    return ordered.map((wait) => ({ owner: v, wait, reason }));
  };
  // Prefer one abort that resolves everything: try candidates in policy order
  // (bounded, so a huge ring costs a few reductions, not one per member).
  const ordered = members
    .filter((m) => abortable(m) && blockedWaits(m, red).length > 0)
    .sort((a, b) => compareVictims(a, b, order, closer));
  for (const v of ordered.slice(0, SINGLE_VICTIM_TRIALS)) {
    const again = reduce(scope, new Set([...unwinding, v]));
    if (members.every((m) => !again.stuck.has(m))) {
      const reason = v === ordered[0] ? victimReason(v, ordered, order, closer) : 'the first, in victim order, whose abort alone resolves the deadlock';
      return abortWaits(v, reason);
    }
  }
  // No single abort does it: greedily abort in policy order until nobody is stuck.
  const finished = new Set<Owner>(unwinding);
  let stillStuck = members;
  for (;;) {
    const pool = stillStuck.filter((m) => abortable(m) && !finished.has(m) && blockedWaits(m, red).length > 0);
    if (pool.length === 0) return []; // no set of aborts resolves it: report, abort nobody
    pool.sort((a, b) => compareVictims(a, b, order, closer));
    const v = pool[0] as Owner;
    // Abort the wait that puts it on the cycle (the first of its blocked waits with an edge into it).
    victims.push(...abortWaits(v, victimReason(v, pool, order, closer)));
    finished.add(v);
    const again = reduce(scope, finished);
    stillStuck = members.filter((m) => again.stuck.has(m));
    if (stillStuck.length === 0) return victims;
  }
}

function holdCount(o: Owner): number {
  let n = 0;
  for (const h of o.allHolds()) if (h.resource.kind !== 'task') n++;
  return n;
}

function criterionValue(o: Owner, c: VictimCriterion, closer: Owner | undefined): number {
  switch (c) {
    case 'priority':
      return o.priority;
    case 'work':
      return holdCount(o);
    case 'youngest':
      return -o.startedAt;
    case 'closer':
      return o === closer ? 0 : 1;
  }
}

function compareVictims(a: Owner, b: Owner, order: VictimCriterion[], closer: Owner | undefined): number {
  for (const c of order) {
    const d = criterionValue(a, c, closer) - criterionValue(b, c, closer);
    if (d !== 0) return d;
  }
  return a.key.localeCompare(b.key);
}

function victimReason(v: Owner, pool: Owner[], order: VictimCriterion[], closer: Owner | undefined): string {
  if (pool.length === 1) return 'the only member whose wait can be aborted';
  const other = pool[1] as Owner;
  for (const c of order) {
    if (criterionValue(v, c, closer) === criterionValue(other, c, closer)) continue;
    switch (c) {
      case 'priority':
        return `lowest priority (${v.priority})`;
      case 'work':
        return `least work lost (holds ${holdCount(v)} resource${holdCount(v) === 1 ? '' : 's'})`;
      case 'youngest':
        return 'youngest member (started last)';
      case 'closer':
        return 'its wait closed the cycle';
    }
  }
  return 'tie broken by owner id';
}

