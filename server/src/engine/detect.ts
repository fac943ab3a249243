// Deadlock detection: the cycle filter (step 1), the reduction (step 2, in
// reduction.ts), the members, deadlocks behind deadlocks, and the victims.
// README.md in this directory explains the model, when a search runs and why
// no deadlock is missed, and each step; this file follows its sections.
import { Resource, type Owner, type Wait } from './model.js';
import { reduceSteps, type ReductionResult } from './reduction.js';
import { stronglyConnectedSteps } from './scc.js';
import { appended, emptyList } from './empty.js';
import { eachStep, filterSteps, findSteps, setSteps, someSteps, sortSteps, STEP, uniqueSteps, type Steps } from './steps.js';
import type { VictimCriterion } from './types.js';
import type { Stamps } from './marks.js';

interface BlockEdge {
  from: Owner;
  to: Owner;
  wait: Wait;
  kind: 'hard' | 'soft';
}

/** Move `waits` to the front of `resource`'s FIFO queue, in this order. */
interface QueueMove {
  resource: Resource;
  waits: Wait[];
}

interface Victim {
  owner: Owner;
  wait: Wait;
  reason: string;
}

export interface FoundDeadlock {
  members: Owner[];
  /** each member's blocked waits */
  waits: Wait[];
  edges: BlockEdge[];
  /** one entry per wait to abort: every blocked wait of each victim owner */
  victims: Victim[];
  /** members on the cycle only through soft edges, holding nothing it needs (reported apart) */
  queued: Owner[];
  /** queue moves: alone (no victims) they resolve it; with victims, they hand the victims' units on */
  reorders: QueueMove[];
  closer: Owner | undefined;
}

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
function* cycleThrough(start: Owner, stamps: Stamps): Steps<boolean> {
  const stamp = stamps.next();
  const startQueues = fifoQueuesOf(start);
  const stack: Owner[] = [start];
  start.mark = stamp;
  let work = 0;
  while (stack.length > 0) {
    if (++work % STEP === 0) yield;
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

const waitsOn = (o: Owner, r: Resource): boolean => {
  for (const w of o.waits) if (w.resource === r && !w.aborting) return true;
  return false;
};

/**
 * Step 1 from a resource with fewer units left (a late hold, a grant to an owner blocked
 * elsewhere, a capacity decrease): the waiters of r that lie on a cycle through r. A cycle
 * through a waiter of r leaves it through r: to a holder of r, or (FIFO) to a waiter ahead, and
 * a chain of such soft edges through r's queue ends at a holder or at a queue-mate that also
 * waits elsewhere (`multiWaiters`). So the walk starts from those, and every waiter of r it
 * reaches along an edge is on a cycle through r. It never walks r's queue: the plain waiters of
 * a hot lock are reached by no edge (README.md, "When detection runs").
 */
function* waitersOnCycleThrough(r: Resource, stamps: Stamps): Steps<Owner[]> {
  const stamp = stamps.next();
  const found: Owner[] = [];
  const stack: Owner[] = [];
  // queue-mates the walk starts from without an edge into them yet: checked when one arrives
  let unchecked: Set<Owner> | undefined;
  const reach = (x: Owner): void => {
    if (x.mark !== stamp) {
      x.mark = stamp;
      stack.push(x);
      if (waitsOn(x, r)) found.push(x);
    } else if (unchecked?.delete(x) && waitsOn(x, r)) found.push(x);
  };
  r.mark = stamp;
  for (const h of r.holderOwners()) reach(h); // a holder waiting on r: a cycle of one
  if (r.fifo)
    for (const q of r.multiWaiters)
      if (q.mark !== stamp) {
        q.mark = stamp;
        stack.push(q);
        (unchecked ??= new Set()).add(q);
      }
  let work = 0;
  while (stack.length > 0) {
    if (++work % STEP === 0) yield;
    const o = stack.pop() as Owner;
    for (const w of o.waits) {
      if (w.aborting) continue;
      const x = w.resource;
      if (x.mark === stamp) continue; // r itself, or visited: its edges were followed once
      x.mark = stamp;
      for (const h of x.holderOwners()) reach(h);
      if (x.fifo) for (const q of x.multiWaiters) reach(q);
    }
  }
  return found;
}

const bySeq = (a: Wait, b: Wait): number => a.seq - b.seq;

/** The last of `ws` (in seq order) with a seq below `seq`, by binary search. */
function lastBefore(ws: readonly Wait[], seq: number): Wait | undefined {
  let lo = 0;
  let hi = ws.length; // first index with seq >= `seq`
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ws[mid] as Wait).seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? ws[lo - 1] : undefined;
}

/** A batch with at most this many starts is searched one walk per start; more take one Tarjan pass. */
const SEPARATE_WALKS = 4;

/**
 * Step 1 for a batch: the owner starts on a cycle, and the waiters of each start resource on a
 * cycle through it. Many starts take one Tarjan pass over the same edges instead of one walk
 * per start (a batch of N waits along a chain would otherwise cost N²), with each start
 * resource a node of its own: its waiters lead to it, it leads to its holders and multi-waiters.
 */
function* startsOnCycles(starts: Owner[], resources: readonly Resource[], stamps: Stamps): Steps<Owner[]> {
  if (starts.length + resources.length <= SEPARATE_WALKS) {
    const out: Owner[] = [];
    for (const s of starts) if (yield* cycleThrough(s, stamps)) out.push(s);
    for (const r of resources) out.push(...(yield* waitersOnCycleThrough(r, stamps)));
    return resources.length > 0 ? yield* uniqueSteps(out) : out;
  }
  // Soft edges into starts: a waiter on a FIFO queue is blocked by the starts
  // queued ahead of it. One edge to the NEAREST start ahead stands for all of
  // them (that start's own edge continues the chain), so a batch of n waits on
  // one hot queue costs n edges, not n².
  // the starts queued in each FIFO queue: one owner as itself, an array once there are more
  // (the search again after a 30k ring ended has a start in each of 30k queues, one each: an
  // array and a Set per queue were megabytes that lived through the whole search, and every
  // young-generation GC on the way copied them)
  const startsIn = new Map<Resource, Owner | Owner[]>();
  let work = 0;
  for (const s of starts) {
    for (const r of fifoQueuesOf(s) ?? []) {
      const there = startsIn.get(r);
      if (there === undefined) startsIn.set(r, s);
      else if (Array.isArray(there)) there.push(s);
      else if (there !== s) startsIn.set(r, [there, s]);
    }
    if (++work % STEP === 0) yield; // the search again after a big deadlock ended starts from each member
  }
  // A queue in seq order (the usual case) answers "nearest start ahead of w" by binary search
  // over its start waits: grant order is the upgrades, then the rest, each part in seq order.
  // Only a reordered queue is walked (a walk costs the whole queue per batch: 10k waiters on a
  // hot lock made every 2-wait frame 10× dearer). A queue whose only start is one owner needs
  // neither: no other start is ahead of anyone there but that owner's, and its own wait is
  // the answer only for the waits behind it, which lastBefore finds in a list of one.
  const nearestStartAhead = new Map<Wait, Owner>();
  const startWaitsBySeq = new Map<Resource, { upgrades: Wait[]; rest: Wait[] }>();
  const waitsBySeq = (r: Resource, rs: readonly Owner[]): { upgrades: Wait[]; rest: Wait[] } => {
    const upgrades: Wait[] = [];
    const rest: Wait[] = [];
    for (const s of rs) for (const w of s.waits) if (w.resource === r && !w.aborting) (r.upgrades.has(w) ? upgrades : rest).push(w);
    return { upgrades: upgrades.sort(bySeq), rest: rest.sort(bySeq) };
  };
  for (const [r, there] of startsIn) {
    if (++work % STEP === 0) yield;
    if (r.queueBySeq) {
      if (Array.isArray(there)) startWaitsBySeq.set(r, waitsBySeq(r, [...new Set(there)]));
      continue;
    }
    // a reordered queue is walked whole: its starts as a set when there are several (a scan per waiter was n·k)
    const several = Array.isArray(there) ? new Set(there) : undefined;
    let last: Owner | undefined;
    for (const w of r.inGrantOrder()) {
      if (last && last !== w.owner) nearestStartAhead.set(w, last);
      if ((several ? several.has(w.owner) : w.owner === there) && !w.aborting) last = w.owner;
    }
  }
  const startAhead = (w: Wait): Owner | undefined => {
    const r = w.resource;
    let parts = startWaitsBySeq.get(r);
    if (parts === undefined && r.queueBySeq) {
      // one start owner in this queue (or none): listed when another owner's wait asks
      const there = startsIn.get(r) as Owner | undefined;
      if (there === undefined || there === w.owner) return undefined;
      startWaitsBySeq.set(r, (parts = waitsBySeq(r, [there])));
    }
    if (!parts) return nearestStartAhead.get(w);
    // an upgrade is behind the earlier upgrades only; any other wait behind every upgrade too
    const upgrade = w.resource.upgrades.has(w);
    const ahead = lastBefore(upgrade ? parts.upgrades : parts.rest, w.seq) ?? (upgrade ? undefined : parts.upgrades[parts.upgrades.length - 1]);
    return ahead && ahead.owner !== w.owner ? ahead.owner : undefined;
  };
  const startResources = new Set(resources);
  const comps = yield* stronglyConnectedSteps<Owner | Resource>([...starts, ...startResources], (n) => {
    if (n instanceof Resource) {
      const out: (Owner | Resource)[] = [];
      n.addHolderOwners(out);
      if (n.fifo) for (const q of n.multiWaiters) out.push(q);
      return out;
    }
    const out: (Owner | Resource)[] = [];
    for (const w of n.waits) {
      if (w.aborting) continue;
      const r = w.resource;
      if (startResources.has(r)) out.push(r);
      r.addHolderOwners(out);
      if (!r.fifo) continue;
      for (const q of r.multiWaiters) if (q !== n) out.push(q);
      const ahead = startAhead(w);
      if (ahead) out.push(ahead);
    }
    return out;
  });
  const onCycle = new Set<Owner>();
  const out: Owner[] = [];
  for (const c of comps) {
    if (c.length > 1) {
      const through = yield* setSteps((yield* filterSteps(c, (x) => x instanceof Resource)) as Resource[]);
      for (const x of c) {
        if (++work % STEP === 0) yield;
        if (x instanceof Resource) continue;
        onCycle.add(x);
        // a waiter of a start resource on a cycle through it is a start of its own
        if (through.size > 0 && [...x.waits].some((w) => !w.aborting && through.has(w.resource))) out.push(x);
      }
    } else {
      const o = c[0];
      if (o instanceof Resource || o === undefined) continue;
      for (const w of o.waits) if (!w.aborting && w.resource.isHeldBy(o)) onCycle.add(o);
    }
  }
  yield* eachStep(starts, (s) => {
    if (onCycle.has(s)) out.push(s);
  });
  return yield* uniqueSteps(out);
}

/** The owners whose fate decides the starts': reachable owners, with every holder and FIFO queue-mate on the way. */
function* scopeFrom(starts: Iterable<Owner>): Steps<Set<Owner>> {
  const scope = new Set<Owner>();
  const seen = new Set<Resource>();
  const stack: Owner[] = [];
  for (const s of starts) if (!scope.has(s)) (scope.add(s), stack.push(s));
  let work = 0;
  while (stack.length > 0) {
    if (++work % STEP === 0) yield;
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
function blockEdges(o: Owner, red: ReductionResult, aheadOf: Map<Wait, Wait | undefined>): readonly BlockEdge[] {
  let edges: BlockEdge[] | undefined; // nearly always one edge (empty.ts, appended)
  for (const w of o.liveWaits()) {
    if (red.grantedInSim.has(w)) continue;
    const r = w.resource;
    if (w.units > red.freeAtEnd(r)) {
      for (const h of r.holderOwners()) if (red.stuck.has(h)) edges = appended(edges, { from: o, to: h, wait: w, kind: 'hard' });
      // Units granted during the reduction to owners that then stayed stuck are held too.
      if (r.fifo && red.grantedInSim.size > 0)
        for (const q of r.queue)
          if (q !== w && red.grantedInSim.has(q) && red.stuck.has(q.owner) && !r.isHeldBy(q.owner))
            edges = appended(edges, { from: o, to: q.owner, wait: w, kind: 'hard' });
    }
    if (r.fifo) {
      const ahead = waitAhead(w, red, aheadOf);
      if (ahead && ahead.owner !== o) edges = appended(edges, { from: o, to: ahead.owner, wait: w, kind: 'soft' });
    }
  }
  return edges ?? emptyList();
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

function blockedWaits(o: Owner, red: ReductionResult): readonly Wait[] {
  let out: Wait[] | undefined;
  for (const w of o.liveWaits()) if (!red.grantedInSim.has(w)) out = appended(out, w);
  return out ?? emptyList();
}

export interface SearchOptions {
  /** the graph's traversal stamps (marks.ts) */
  stamps: Stamps;
  everyComponent?: boolean;
  scope?: Set<Owner>;
  unabortable?: (o: Owner) => boolean;
  resources?: readonly Resource[];
}

/**
 * Finds the deadlocks that `starts` are members of, pausing every few hundred units of work
 * (steps.ts; the graph must not change until it ends). With `everyComponent` (the periodic
 * sweep) it returns every deadlock among the stuck owners.
 */
export function* findDeadlocksSteps(starts: Owner[], victimOrder: VictimCriterion[], opts: SearchOptions): Steps<FoundDeadlock[]> {
  const candidates = opts.everyComponent ? starts : yield* startsOnCycles(yield* filterSteps(starts, (s) => s.hasLiveWait()), opts.resources ?? [], opts.stamps);
  if (candidates.length === 0) return [];
  const scope = opts.scope ?? (yield* scopeFrom(candidates));
  const red = yield* reduceSteps(scope);
  const roots = yield* filterSteps(candidates, (s) => red.stuck.has(s));
  if (roots.length === 0) return [];

  const aheadOf = new Map<Wait, Wait | undefined>();
  const edgesOf = new Map<Owner, readonly BlockEdge[]>();
  const edges = (o: Owner): readonly BlockEdge[] => {
    let e = edgesOf.get(o);
    if (!e) edgesOf.set(o, (e = blockEdges(o, red, aheadOf)));
    return e;
  };
  const comps = yield* stronglyConnectedSteps(opts.everyComponent ? red.stuck : roots, (o: Owner) => edges(o).map((e) => e.to));

  // Tarjan yields components sinks first: one blocked by another comes after it. Once a
  // component has victims, the later ones are judged again as if those victims had unwound:
  // a component that then proceeds only waited behind the first, and aborting one of its
  // members too would be an abort more than needed. One still stuck (behind an unresolvable
  // deadlock, or on its own) is a deadlock of its own.
  const unwinding = new Set<Owner>();
  // the reduction with the victims so far unwound: redone only when a later component asks
  // (one deadlock, the usual case, never pays for it; a 30k ring's costs a few hundred ms)
  let now: ReductionResult | undefined = red;
  const found: FoundDeadlock[] = [];
  for (const comp of comps) {
    const inComp = yield* setSteps(comp);
    const closer = opts.everyComponent ? undefined : yield* findSteps(roots, (r) => inComp.has(r));
    if (!opts.everyComponent && !closer) continue;
    const only = comp[0] as Owner;
    if (comp.length === 1 && !edges(only).some((e) => e.to === only)) continue;
    now ??= yield* reduceSteps(scope, unwinding);
    const stuckNow = now.stuck;
    if (!(yield* someSteps(comp, (m) => stuckNow.has(m)))) continue;
    // pauses only after work that was big: a two-member deadlock found late in a slice (a cold
    // first frame, a GC) paused here and waited a loop iteration or two for its abort (4-8 ms)
    if (comp.length >= STEP) yield;
    const members = yield* byKeySteps(comp);
    const memberEdges: BlockEdge[] = [];
    const waits: Wait[] = [];
    yield* eachStep(members, (m) => {
      for (const e of edges(m)) if (inComp.has(e.to)) memberEdges.push(e);
      for (const w of blockedWaits(m, red)) waits.push(w);
    });
    // A soft deadlock that a queue reordering resolves costs no abort (PostgreSQL's rule).
    const reorder = yield* reorderPlan(members, memberEdges, scope, red, unwinding);
    const needs = yield* holdersOfNeeds(members, red);
    const victims = reorder ? [] : yield* chooseVictims(members, needs, scope, red, victimOrder, closer, memberEdges, unwinding, opts.unabortable);
    const reorders = reorder ?? (yield* handoffPlan(needs, victims, scope, red, unwinding));
    const needed = yield* setSteps(needs);
    for (const v of victims) needed.add(v.owner);
    const queued = needed.size === 0 ? [] : yield* filterSteps(members, (m) => !needed.has(m));
    found.push({ members, waits, edges: memberEdges, victims, queued, reorders, closer });
    if (victims.length > 0 || reorder) {
      for (const v of victims) unwinding.add(v.owner);
      // a reordered component proceeds: for the components after it, its members unwind too
      if (reorder) for (const m of members) unwinding.add(m);
      now = undefined;
    }
  }
  return found;
}

// ---- reordering -------------------------------------------------------------

/** how many soft edges a reorder search tries (each costs one reduction) */
const REORDER_TRIALS = 32;

/** A FIFO queue the daemon may reorder: process-local, of a client that applies `reorder` frames. */
function reorderable(r: Resource, by: Owner): boolean {
  return r.fifo && !r.global && r.kind !== 'task' && by.client.info.reorder === true;
}

const withMove = (front: ReadonlyMap<Resource, readonly Wait[]>, w: Wait): Map<Resource, Wait[]> => {
  const next = new Map<Resource, Wait[]>([...front].map(([r, ws]) => [r, [...ws]]));
  const list = next.get(w.resource) ?? [];
  if (!list.includes(w)) list.push(w);
  next.set(w.resource, list);
  return next;
};

const isSubset = <T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean => {
  for (const x of a) if (!b.has(x)) return false;
  return true;
};

/**
 * PostgreSQL's soft-deadlock resolution (lmgr README, "Deadlock detection algorithm"): a
 * member blocked only because FIFO queues it behind a stuck waiter (a soft edge) may be moved
 * ahead of it. Moves are tried one soft edge at a time, each waiter to the front of its queue;
 * a move is kept when it leaves fewer members stuck and makes nobody stuck who was not. Done
 * when no member is stuck: the plan, and nobody is aborted. (PostgreSQL searches the
 * orderings of a queue exhaustively by topological sort; moving to the front one wait at a
 * time finds its answers for the specs it tests, see test/test/pg-isolation-deadlocks.test.ts.)
 */
function* reorderPlan(
  members: Owner[],
  edges: BlockEdge[],
  scope: Set<Owner>,
  red: ReductionResult,
  unwinding: ReadonlySet<Owner>,
): Steps<QueueMove[] | undefined> {
  const soft = edges.filter((e) => e.kind === 'soft' && reorderable(e.wait.resource, e.from) && !e.wait.resource.upgrades.has(e.wait));
  if (soft.length === 0) return undefined;
  let front = new Map<Resource, Wait[]>();
  const stuckMembers = (x: ReductionResult) => members.filter((m) => x.stuck.has(m)).length;
  let best = stuckMembers(unwinding.size > 0 ? yield* reduceSteps(scope, unwinding) : red);
  for (const e of soft.slice(0, REORDER_TRIALS)) {
    const next = withMove(front, e.wait);
    const again = yield* reduceSteps(scope, unwinding, next);
    if (!isSubset(again.stuck, red.stuck)) continue; // it would strand someone else
    const n = stuckMembers(again);
    if (n >= best) continue;
    front = next;
    best = n;
    if (n === 0) return yield* prune(front, members, scope, red, unwinding);
  }
  return undefined;
}

/** Drops the moves a plan does not need (each costs one reduction): a reordering as small as the greedy pass allows. */
function* prune(
  front: Map<Resource, Wait[]>,
  members: Owner[],
  scope: Set<Owner>,
  red: ReductionResult,
  unwinding: ReadonlySet<Owner>,
): Steps<QueueMove[]> {
  for (const [r, ws] of [...front]) {
    for (const w of [...ws]) {
      const list = front.get(r) ?? [];
      const without = new Map(front);
      const rest = list.filter((x) => x !== w);
      if (rest.length) without.set(r, rest);
      else without.delete(r);
      if (without.size === 0) continue;
      const again = yield* reduceSteps(scope, unwinding, without);
      if (isSubset(again.stuck, red.stuck) && members.every((m) => !again.stuck.has(m))) front = without;
    }
  }
  return [...front].map(([resource, waits]) => ({ resource, waits }));
}

/**
 * With victims chosen: what each victim gives back goes first to the members of the cycle
 * that wait for it, not to owners queued ahead of them that hold nothing it needs. Without
 * this, two opposite transfers behind a queue of 200 hand the victim's lock to the next of
 * the 200, which closes the same cycle again with the survivor, and so on (issue 8). The
 * moves are kept only if, with the victims unwound, nobody ends up stuck who would not be.
 */
function* handoffPlan(
  /** holdersOfNeeds(members, red): the members that hold what the cycle needs */
  needs: ReadonlySet<Owner>,
  victims: { owner: Owner }[],
  scope: Set<Owner>,
  red: ReductionResult,
  unwinding: ReadonlySet<Owner>,
): Steps<QueueMove[]> {
  if (victims.length === 0) return [];
  const gone = new Set<Owner>([...unwinding, ...victims.map((v) => v.owner)]);
  const moves = new Map<Resource, Wait[]>();
  for (const v of gone) {
    if (!victims.some((x) => x.owner === v)) continue;
    for (const h of v.allHolds()) {
      const r = h.resource;
      if (!reorderable(r, v) || moves.has(r)) continue;
      const waits: Wait[] = [];
      let ahead = false;
      for (const w of r.inGrantOrder()) {
        if (w.aborting || gone.has(w.owner) || red.grantedInSim.has(w) || !red.stuck.has(w.owner)) continue;
        if (needs.has(w.owner)) waits.push(w); // (needs are members)
        else if (waits.length === 0) ahead = true; // someone else would be served first
      }
      if (waits.length > 0 && ahead) moves.set(r, waits);
    }
  }
  if (moves.size === 0) return [];
  const base = yield* reduceSteps(scope, gone);
  const moved = yield* reduceSteps(scope, gone, moves);
  if (!isSubset(moved.stuck, base.stuck)) return [];
  return [...moves].map(([resource, waits]) => ({ resource, waits }));
}

// ---- victims ----------------------------------------------------------------

/**
 * Members that hold units of a resource some member is blocked on: the only owners whose
 * abort gives back something the deadlock needs (see "Victims" in the header).
 */
function* holdersOfNeeds(members: Owner[], red: ReductionResult): Steps<Set<Owner>> {
  const needed = new Set<Resource>();
  yield* eachStep(members, (m) => {
    for (const w of blockedWaits(m, red)) needed.add(w.resource);
  });
  const out = new Set<Owner>();
  yield* eachStep(members, (m) => {
    for (const h of m.allHolds()) if (needed.has(h.resource)) out.add(m);
  });
  return out;
}

function* chooseVictims(
  members: Owner[],
  /** holdersOfNeeds(members, red) */
  needed: ReadonlySet<Owner>,
  scope: Set<Owner>,
  red: ReductionResult,
  order: VictimCriterion[],
  closer: Owner | undefined,
  edges: BlockEdge[],
  /** victims of deadlocks found before this one in the same search: assumed to unwind */
  unwinding: ReadonlySet<Owner>,
  /** owners that missed a deadline of this deadlock (book.ts): never its victims */
  unabortable: ((o: Owner) => boolean) | undefined,
): Steps<Victim[]> {
  const eligible: Owner[] = [];
  yield* eachStep(members, (m) => {
    if (m.abortable && !unabortable?.(m) && blockedWaits(m, red).length > 0) eligible.push(m);
  });
  // First among the members that hold what the deadlock needs; only if no set of them
  // resolves it (they cannot be aborted), among every member.
  const first = yield* filterSteps(eligible, (m) => needed.has(m));
  const found = yield* victimsAmong(first, members, scope, red, order, closer, edges, unwinding);
  if (found.length > 0 || first.length === eligible.length) return found;
  return yield* victimsAmong(eligible, members, scope, red, order, closer, edges, unwinding);
}

function* victimsAmong(
  pool0: Owner[],
  members: Owner[],
  scope: Set<Owner>,
  red: ReductionResult,
  order: VictimCriterion[],
  closer: Owner | undefined,
  edges: BlockEdge[],
  unwinding: ReadonlySet<Owner>,
): Steps<Victim[]> {
  if (pool0.length === 0) return [];
  const inPool = yield* setSteps(pool0);
  const victims: Victim[] = [];
  // A victim gives up every wait it is blocked in (the reduction assumes it
  // unwinds and finishes); the first is the one that puts it on the cycle.
  function* abortWaits(v: Owner, reason: string): Steps<Victim[]> {
    const first = (yield* findSteps(edges, (e) => e.from === v))?.wait;
    const all = blockedWaits(v, red);
    const ordered = first ? [first, ...all.filter((w) => w !== first)] : all;
    return ordered.map((wait) => ({ owner: v, wait, reason }));
  }
  // Prefer one abort that resolves everything: try candidates in policy order
  // (bounded, so a huge ring costs a few reductions, not one per member).
  const ordered = yield* firstInVictimOrder(pool0, order, closer, SINGLE_VICTIM_TRIALS);
  for (const v of ordered) {
    const again = yield* reduceSteps(scope, new Set([...unwinding, v]));
    if (!(yield* someSteps(members, (m) => again.stuck.has(m)))) {
      const reason = v === ordered[0] ? victimReason(v, ordered, order, closer) : 'the first, in victim order, whose abort alone resolves the deadlock';
      return yield* abortWaits(v, reason);
    }
  }
  // No single abort does it: greedily abort in policy order until nobody is stuck.
  const finished = new Set<Owner>(unwinding);
  let stillStuck = members;
  for (;;) {
    // the first two: the victim, and the one after it for the reason
    const pool = yield* firstInVictimOrder(yield* filterSteps(stillStuck, (m) => inPool.has(m) && !finished.has(m)), order, closer, 2);
    if (pool.length === 0) return []; // no set of aborts from this pool resolves it
    const v = pool[0] as Owner;
    // Abort the wait that puts it on the cycle (the first of its blocked waits with an edge into it).
    victims.push(...(yield* abortWaits(v, victimReason(v, pool, order, closer))));
    finished.add(v);
    const again = yield* reduceSteps(scope, finished);
    stillStuck = yield* filterSteps(members, (m) => again.stuck.has(m));
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

interface VictimRow {
  o: Owner;
  key: string;
  values: number[];
}

/** Victim order: by each criterion in turn, ties by key. */
function victimRowOrder(a: VictimRow, b: VictimRow): number {
  for (let i = 0; i < a.values.length; i++) {
    const d = (a.values[i] as number) - (b.values[i] as number);
    if (d !== 0) return d;
  }
  return compareKeys(a.key, b.key);
}

/**
 * The first `k` owners of `pool` in victim order (values computed once per owner). Only the
 * first few are ever used (the single-victim trials, a victim and the one after it for its
 * reason): kept in a small sorted array as the pool goes by, not a sort of the whole pool,
 * which for a 30,000-member ring was one 40 ms pass the search could not pause in.
 */
function* firstInVictimOrder(pool: readonly Owner[], order: VictimCriterion[], closer: Owner | undefined, k: number): Steps<Owner[]> {
  const top: VictimRow[] = [];
  yield* eachStep(pool, (o) => {
    const row = { o, key: o.key, values: order.map((c) => criterionValue(o, c, closer)) };
    if (top.length === k && victimRowOrder(row, top[k - 1] as VictimRow) >= 0) return;
    let i = top.length;
    while (i > 0 && victimRowOrder(row, top[i - 1] as VictimRow) < 0) i--;
    top.splice(i, 0, row);
    if (top.length > k) top.pop();
  });
  return top.map((r) => r.o);
}

/** Code-unit order: the same on every machine and locale (and far cheaper than localeCompare). */
const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Owners sorted by key, each key built once; in steps (a 30k ring's members are sorted too). */
function* byKeySteps(owners: readonly Owner[]): Steps<Owner[]> {
  const keyed: { o: Owner; key: string }[] = [];
  yield* eachStep(owners, (o) => keyed.push({ o, key: o.key }));
  const sorted = yield* sortSteps(keyed, (a, b) => compareKeys(a.key, b.key));
  return sorted.map((r) => r.o);
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

