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
// re-check of a shared resource's waiters each time its free units grow.
import type { Owner, Resource, Wait } from './model.js';

/** r's pending waits in grant order, with `front`'s moves applied (upgrades stay first). */
function* grantOrder(r: Resource, front?: ReadonlyMap<Resource, readonly Wait[]>): Generator<Wait, void, undefined> {
  const moved = front?.get(r);
  if (!moved) return yield* r.inGrantOrder();
  const skip = new Set(moved);
  yield* r.upgrades;
  for (const w of moved) if (!r.upgrades.has(w) && r.queue.has(w)) yield w;
  for (const w of r.queue) if (!skip.has(w) && !r.upgrades.has(w)) yield w;
}

export interface ReductionResult {
  /** owners that can never proceed */
  stuck: Set<Owner>;
  /** FIFO waits granted during the reduction (they no longer block anyone's ordering; their units stay taken) */
  grantedInSim: Set<Wait>;
  /** free units of each resource the reduction touched, at the end */
  freeAtEnd: (r: Resource) => number;
}

/**
 * @param scope    owners to reduce; every holder of a resource that an owner in
 *                 scope waits for must be in scope too (callers build it so)
 * @param finished owners assumed to finish regardless (victims being aborted)
 */
export function reduce(
  scope: Iterable<Owner>,
  finished: ReadonlySet<Owner> = new Set(),
  /** FIFO queues reordered as if these waits had been moved to the front (a reorder plan being tried) */
  front?: ReadonlyMap<Resource, readonly Wait[]>,
): ReductionResult {
  const free = new Map<Resource, number>();
  const fifoPending = new Map<Owner, number>();
  const granted = new Map<Owner, Wait[]>();
  const grantedInSim = new Set<Wait>();
  const headIter = new Map<Resource, Iterator<Wait>>();
  const head = new Map<Resource, Wait | undefined>();
  const done = new Set<Owner>();
  const owners: Owner[] = [];
  const ready: Owner[] = [];

  const freeOf = (r: Resource): number => {
    let f = free.get(r);
    if (f === undefined) free.set(r, (f = r.free));
    return f;
  };

  for (const o of scope) {
    owners.push(o);
    let n = 0;
    if (!finished.has(o)) for (const w of o.liveWaits()) if (w.resource.fifo) n++;
    fifoPending.set(o, n);
  }

  /** Can `o` finish now? Its FIFO waits are granted; its other waits must all fit at once. */
  const canFinish = (o: Owner): boolean => {
    if (finished.has(o)) return true;
    if ((fifoPending.get(o) ?? 0) > 0) return false;
    let need: Map<Resource, number> | undefined;
    for (const w of o.liveWaits()) {
      if (w.resource.fifo) continue;
      const r = w.resource;
      if (o.waits.size === 1) return w.units <= freeOf(r);
      need ??= new Map();
      const total = (need.get(r) ?? 0) + w.units;
      if (total > freeOf(r)) return false;
      need.set(r, total);
    }
    return true;
  };

  const touched: Resource[] = [];
  const finish = (o: Owner): void => {
    if (done.has(o)) return;
    done.add(o);
    for (const h of o.allHolds()) {
      free.set(h.resource, freeOf(h.resource) + h.units);
      touched.push(h.resource);
    }
    for (const w of granted.get(o) ?? []) {
      free.set(w.resource, freeOf(w.resource) + w.units);
      touched.push(w.resource);
    }
  };

  /** Grant FIFO heads that fit, in order; an owner whose last FIFO wait is granted may become ready. */
  const pumpFifo = (r: Resource): void => {
    let it = headIter.get(r);
    if (!it) headIter.set(r, (it = grantOrder(r, front)));
    let w = head.has(r) ? head.get(r) : it.next().value;
    for (;;) {
      // Skip waits that will never be granted here: aborted, or of owners that finished.
      while (w && (w.aborting || done.has(w.owner) || finished.has(w.owner))) w = it.next().value;
      if (!w || w.units > freeOf(r)) break;
      free.set(r, freeOf(r) - w.units);
      grantedInSim.add(w);
      let g = granted.get(w.owner);
      if (!g) granted.set(w.owner, (g = []));
      g.push(w);
      const left = (fifoPending.get(w.owner) ?? 0) - 1;
      fifoPending.set(w.owner, left);
      if (left === 0) ready.push(w.owner);
      w = it.next().value;
    }
    head.set(r, w);
  };

  const wake = (r: Resource): void => {
    if (r.fifo) pumpFifo(r);
    else for (const w of r.queue) if (!done.has(w.owner) && fifoPending.has(w.owner)) ready.push(w.owner);
  };

  // Initial state: heads that fit now would be granted at once.
  for (const o of owners) for (const w of o.liveWaits()) if (w.resource.fifo && !head.has(w.resource)) pumpFifo(w.resource);
  for (const o of owners) ready.push(o);

  while (ready.length > 0) {
    const o = ready.pop() as Owner;
    if (done.has(o) || !canFinish(o)) continue;
    finish(o);
    while (touched.length > 0) wake(touched.pop() as Resource);
  }

  const stuck = new Set<Owner>();
  for (const o of owners) if (!done.has(o)) stuck.add(o);
  return { stuck, grantedInSim, freeAtEnd: freeOf };
}
