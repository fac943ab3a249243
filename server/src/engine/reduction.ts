// Holt's graph reduction over counted resources, with FIFO queues.
//
// Question answered: assuming every owner that CAN proceed does, finishes, and
// returns everything it holds, which owners can never proceed? Those are
// deadlocked; everyone else is merely waiting.
//
// An owner proceeds once all its pending waits are granted:
//   - FIFO resources grant strictly in queue order (rwlock upgrades first, see
//     Resource.upgrades): the head is granted as soon
//     as its units are free, even to an owner still blocked elsewhere (that is
//     what the SDK's primitives do), and nobody overtakes it. A granted unit
//     stays taken until its owner finishes.
//   - Other resources (shared, cross-process) grant in an order we cannot know.
//     We assume the kindest one: an owner is granted them only when all of its
//     requests fit at once and it then finishes. Kindest order = never a false
//     deadlock.
// Finishing returns the owner's holds and everything granted to it during the
// reduction. The result does not depend on the order owners finish in: grants
// only ever follow from more free units, and finishing only frees units.
//
// Cost is linear in the owners, waits and holds of the scope, plus one
// re-check of a shared resource's waiters each time its free units grow. The
// state of the run is a number per owner (its entries in a few arrays) and one
// record per resource it touches (two Maps in all). It yields every STEP owners
// (steps.ts): a big scope can be reduced in slices; the graph must not change
// until it ends.
import type { Owner, Resource, Wait } from './model.js';
import { STEP, type Steps } from './steps.js';

export interface ReductionResult {
  /** owners that can never proceed */
  stuck: Set<Owner>;
  /** FIFO waits granted during the reduction (they no longer block anyone's ordering; their units stay taken) */
  grantedInSim: Set<Wait>;
  /** free units of each resource the reduction touched, at the end */
  freeAtEnd: (r: Resource) => number;
}

/** One resource during a run. */
interface ResourceRun {
  free: number;
  /** FIFO only: the pending waits in grant order, and the next one to grant */
  order: Iterator<Wait> | undefined;
  head: Wait | undefined;
}

const NOTHING: ReadonlySet<Owner> = new Set();

/** r's pending waits in grant order, with `front`'s moves applied (upgrades stay first). */
function grantOrder(r: Resource, front: ReadonlyMap<Resource, readonly Wait[]> | undefined): Iterator<Wait> {
  const moved = front?.get(r);
  if (!moved && r.upgrades.size === 0) return r.queue.values();
  const order: Wait[] = [...r.upgrades];
  if (moved) for (const w of moved) if (!r.upgrades.has(w) && r.queue.has(w)) order.push(w);
  const skip = moved ? new Set(moved) : undefined;
  for (const w of r.queue) if (!r.upgrades.has(w) && !skip?.has(w)) order.push(w);
  return order.values();
}

/**
 * @param scope    owners to reduce; every holder of a resource that an owner in
 *                 scope waits for must be in scope too (callers build it so)
 * @param finished owners assumed to finish regardless (victims being aborted)
 */
export function* reduceSteps(
  scope: Iterable<Owner>,
  finished: ReadonlySet<Owner> = NOTHING,
  /** FIFO queues reordered as if these waits had been moved to the front (a reorder plan being tried) */
  front?: ReadonlyMap<Resource, readonly Wait[]>,
): Steps<ReductionResult> {
  let work = 0;
  // The scope's owners by number (their place in `order`) and what the run keeps per owner in
  // arrays by that number, not an object each: a search over a 30k ring runs several
  // reductions, each lived through young-generation GCs that copied every object it held.
  const owners = new Map<Owner, number>();
  /** FIFO waits not granted yet */
  const fifoPending: number[] = [];
  const done: boolean[] = [];
  /** FIFO waits granted during the run (their units come back when it finishes): one as itself */
  const granted: (Wait | Wait[] | undefined)[] = [];
  /** an owner of the scope that has not finished (its number), or -1 */
  const running = (o: Owner): number => {
    const i = owners.get(o);
    return i === undefined || done[i] ? -1 : i;
  };
  const resources = new Map<Resource, ResourceRun>();
  const grantedInSim = new Set<Wait>();
  const ready: Owner[] = [];

  const resourceRun = (r: Resource): ResourceRun => {
    let x = resources.get(r);
    if (x === undefined) {
      x = { free: r.free, order: undefined, head: undefined };
      resources.set(r, x);
    }
    return x;
  };

  // the scope once, in order; the later passes go by index (for-of in a generator allocates per item)
  const order: Owner[] = [];
  for (const o of scope) {
    if (owners.has(o)) continue;
    let n = 0;
    if (!finished.has(o)) for (const w of o.waits) if (!w.aborting && w.resource.fifo) n++;
    owners.set(o, order.length);
    order.push(o);
    fifoPending.push(n);
    done.push(false);
    granted.push(undefined);
    if (++work % STEP === 0) yield;
  }

  /** Can `o` finish now? Its FIFO waits are granted; its other waits must all fit at once. */
  const canFinish = (o: Owner, i: number): boolean => {
    if (finished.has(o)) return true;
    if ((fifoPending[i] as number) > 0) return false;
    let need: Map<Resource, number> | undefined;
    for (const w of o.waits) {
      if (w.aborting || w.resource.fifo) continue;
      const r = w.resource;
      const free = resources.get(r)?.free ?? r.free;
      if (o.waits.size === 1) return w.units <= free;
      need ??= new Map();
      const total = (need.get(r) ?? 0) + w.units;
      if (total > free) return false;
      need.set(r, total);
    }
    return true;
  };

  /** Grant FIFO heads that fit, in order; an owner whose last FIFO wait is granted may become ready. */
  const pumpFifo = (r: Resource, x: ResourceRun): void => {
    if (x.order === undefined) {
      x.order = grantOrder(r, front);
      x.head = x.order.next().value;
    }
    let w = x.head;
    for (;;) {
      // Skip waits that will never be granted here: aborted, or of owners that finished (or out of scope).
      while (w !== undefined) {
        if (!w.aborting && running(w.owner) >= 0 && !finished.has(w.owner)) break;
        w = x.order.next().value;
      }
      if (w === undefined || w.units > x.free) break;
      x.free -= w.units;
      grantedInSim.add(w);
      const i = owners.get(w.owner) as number;
      const g = granted[i];
      if (g === undefined) granted[i] = w;
      else if (Array.isArray(g)) g.push(w);
      else granted[i] = [g, w];
      if (--(fifoPending[i] as number) === 0) ready.push(w.owner);
      w = x.order.next().value;
    }
    x.head = w;
  };

  /** r has more free units: its waiters may proceed. */
  const wake = (r: Resource, x: ResourceRun): void => {
    if (r.fifo) pumpFifo(r, x);
    else
      for (const w of r.queue) {
        if (running(w.owner) >= 0) ready.push(w.owner);
      }
  };

  const give = (r: Resource, units: number, touched: Resource[]): void => {
    // free units of a resource nobody waits for are never asked about again
    if (r.queue.size === 0) return;
    resourceRun(r).free += units;
    touched.push(r);
  };

  const touched: Resource[] = [];
  const finish = (o: Owner, i: number): void => {
    done[i] = true;
    for (const h of o.allHolds()) give(h.resource, h.units, touched);
    const g = granted[i];
    if (Array.isArray(g)) for (const w of g) give(w.resource, w.units, touched);
    else if (g !== undefined) give(g.resource, g.units, touched);
    while (touched.length > 0) {
      const r = touched.pop() as Resource;
      wake(r, resources.get(r) as ResourceRun);
    }
  };

  // Initial state: heads that fit now would be granted at once.
  for (let i = 0; i < order.length; i++) {
    for (const w of (order[i] as Owner).waits) {
      if (w.aborting || !w.resource.fifo) continue;
      const x = resourceRun(w.resource);
      if (x.order === undefined) pumpFifo(w.resource, x);
    }
    if (++work % STEP === 0) yield;
  }
  for (let i = 0; i < order.length; i++) ready.push(order[i] as Owner);

  while (ready.length > 0) {
    const o = ready.pop() as Owner;
    const i = owners.get(o) as number;
    if (done[i] || !canFinish(o, i)) continue;
    finish(o, i);
    if (++work % STEP === 0) yield;
  }

  const stuck = new Set<Owner>();
  for (let i = 0; i < order.length; i++) {
    const o = order[i] as Owner;
    if (!done[i]) stuck.add(o);
    if ((i + 1) % STEP === 0) yield;
  }
  return { stuck, grantedInSim, freeAtEnd: (r) => resources.get(r)?.free ?? r.free };
}
