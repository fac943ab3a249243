// The holds of one owner (found by resource) and the holders of one resource
// (found by owner): the same Hold objects, indexed from either end.
//
// Nearly always there is exactly one entry: a task holds a lock or two, a mutex
// has one holder. Node is built without pointer compression, so a Map costs
// ~180 bytes even with one entry and an object wrapping an array ~100, more than
// the Hold itself (~80). So an index is, by size:
//   0            undefined
//   1            the Hold itself (no container at all)
//   2..SMALL     an array of Holds, scanned linearly (as fast as hashing there)
//   more         a Map, so a semaphore or rwlock with thousands of holders keeps
//                O(1) lookups
// The key of an entry is read from the Hold (its resource, or its owner), so
// nothing is stored per entry but the Hold. Indexes only grow into a Map and
// shrink back to an array at SMALL / 2, so a size hovering at the edge does not
// rebuild on every change.
import type { Hold, Owner, Resource } from './model.js';

const SMALL = 8;

export type HoldIndex = Hold | Hold[] | Map<Owner | Resource, Hold> | undefined;

/** Which end of the hold the index is keyed by. */
export type KeyOf = (h: Hold) => Owner | Resource;
export const byResource: KeyOf = (h) => h.resource;
export const byOwner: KeyOf = (h) => h.owner;

export function findHold(ix: HoldIndex, key: Owner | Resource, keyOf: KeyOf): Hold | undefined {
  if (ix === undefined) return undefined;
  if (Array.isArray(ix)) {
    for (const h of ix) if (keyOf(h) === key) return h;
    return undefined;
  }
  if (ix instanceof Map) return ix.get(key);
  return keyOf(ix) === key ? ix : undefined;
}

export function holdCount(ix: HoldIndex): number {
  if (ix === undefined) return 0;
  if (Array.isArray(ix)) return ix.length;
  if (ix instanceof Map) return ix.size;
  return 1;
}

/** The index with `h` added; its key must not be in the index yet. */
export function withHold(ix: HoldIndex, h: Hold, keyOf: KeyOf): HoldIndex {
  if (ix === undefined) return h;
  if (ix instanceof Map) return ix.set(keyOf(h), h);
  if (!Array.isArray(ix)) return [ix, h];
  // a new exact-size array, not push(): push grows the backing store by half
  // again plus 16 slots, which would cost more than the Map we avoid
  if (ix.length < SMALL) return [...ix, h];
  const map = new Map<Owner | Resource, Hold>();
  for (const x of ix) map.set(keyOf(x), x);
  return map.set(keyOf(h), h);
}

/** The index without `h` (by identity). */
export function withoutHold(ix: HoldIndex, h: Hold, keyOf: KeyOf): HoldIndex {
  if (ix === undefined || ix === h) return undefined;
  if (ix instanceof Map) {
    if (ix.get(keyOf(h)) === h) ix.delete(keyOf(h));
    if (ix.size > SMALL / 2) return ix;
    const rest = [...ix.values()];
    return rest.length > 1 ? rest : rest[0];
  }
  if (!Array.isArray(ix)) return ix;
  const i = ix.indexOf(h);
  if (i >= 0) ix.splice(i, 1);
  return ix.length === 1 ? ix[0] : ix;
}

/** Every hold in the index. */
export function* holdsIn(ix: HoldIndex): IterableIterator<Hold> {
  if (ix === undefined) return;
  if (Array.isArray(ix)) yield* ix;
  else if (ix instanceof Map) yield* ix.values();
  else yield ix;
}
