// A set of entries found by key, sized for the usual case of one entry. The
// engine keeps the holds of one owner (found by resource) and the holders of
// one resource (found by owner) in two of these (hold-index.ts): the same holds,
// indexed from either end. Generic, and imports nothing, so model.ts
// can use it without a circle back to itself.
//
// Nearly always there is exactly one entry: a task holds a lock or two, a mutex
// has one holder. Node is built without pointer compression, so a Map costs
// ~180 bytes even with one entry and an object wrapping an array ~100, more than
// a hold itself (a record is 56 B; an owner's first hold lives in the owner:
// model.ts, Hold). So an index is, by size:
//   0            undefined
//   1            the hold itself (no container at all)
//   2..SMALL     an array of holds, scanned linearly (as fast as hashing there)
//   more         a Map, so a semaphore or rwlock with thousands of holders keeps
//                O(1) lookups
// The key of an entry is read from the entry (a Hold's resource, or its owner),
// so nothing is stored per entry but the entry. Indexes only grow into a Map and
// shrink back to an array at SMALL / 2, so a size hovering at the edge does not
// rebuild on every change.
const SMALL = 8;

/** An index of entries H by key K: nothing, one entry, an array, or a Map. */
export type SmallIndex<H extends object, K> = H | H[] | Map<K, H> | undefined;

/** Keys of the engine's two hold indexes (structural, so this file needs no Hold type). */
export const byResource = <R>(h: { readonly resource: R }): R => h.resource;
export const byOwner = <O>(h: { readonly owner: O }): O => h.owner;

export function findHold<H extends object, K>(ix: SmallIndex<H, K>, key: K, keyOf: (h: H) => K): H | undefined {
  if (ix === undefined) return undefined;
  if (Array.isArray(ix)) {
    for (const h of ix) if (keyOf(h) === key) return h;
    return undefined;
  }
  if (ix instanceof Map) return ix.get(key);
  return keyOf(ix) === key ? ix : undefined;
}

export function holdCount<H extends object, K>(ix: SmallIndex<H, K>): number {
  if (ix === undefined) return 0;
  if (Array.isArray(ix)) return ix.length;
  if (ix instanceof Map) return ix.size;
  return 1;
}

/** The index with `h` added; its key must not be in the index yet. */
export function withHold<H extends object, K>(ix: SmallIndex<H, K>, h: H, keyOf: (h: H) => K): SmallIndex<H, K> {
  if (ix === undefined) return h;
  if (ix instanceof Map) return ix.set(keyOf(h), h);
  if (!Array.isArray(ix)) return [ix, h];
  // a new exact-size array, not push(): push grows the backing store by half
  // again plus 16 slots, which would cost more than the Map we avoid
  if (ix.length < SMALL) return [...ix, h];
  const map = new Map<K, H>();
  for (const x of ix) map.set(keyOf(x), x);
  return map.set(keyOf(h), h);
}

/** The index without `h` (by identity). */
export function withoutHold<H extends object, K>(ix: SmallIndex<H, K>, h: H, keyOf: (h: H) => K): SmallIndex<H, K> {
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

/** Calls `fn` on every hold in the index (no iterator, for hot paths). */
export function forEachHold<H extends object, K>(ix: SmallIndex<H, K>, fn: (h: H) => void): void {
  if (ix === undefined) return;
  if (Array.isArray(ix)) for (const h of ix) fn(h);
  else if (ix instanceof Map) for (const h of ix.values()) fn(h);
  else fn(ix);
}

const NONE: readonly never[] = Object.freeze([]);

/** Every hold in the index (no generator: this is on every search's path, and a generator allocates per item). */
export function holdsIn<H extends object, K>(ix: SmallIndex<H, K>): Iterable<H> {
  if (ix === undefined) return NONE;
  if (Array.isArray(ix)) return ix;
  if (ix instanceof Map) return ix.values();
  return [ix];
}
