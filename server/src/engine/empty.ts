// Collections sized for what they nearly always hold: nothing or one item.
//
// Shared empty sets. Most owners never wait and most resources are
// never queued on, so a Set per field (~150 bytes each, even empty)
// dominated the memory per hold. Fields start as these shared instances and
// get a collection of their own on first write (writable()), and go back to
// the shared one when they empty. (Holds use hold-index.ts instead.) Writing to a shared one is a bug: it throws.
//
// Maps that often go from one entry to none (a client's pending waits and owners, when it waits or
// runs one task at a time) lose their last entry by `withoutKey`: a new empty Map in place of the
// delete, after which V8 would shrink the table (a runtime call and a new table, on every such
// cancel, grant and end; the same holds for a Set, which is why the sets above go back to the
// shared one instead of being emptied).
//
// Lists made per member of a deadlock (a 30,000-member ring: 30,000 of each) that nearly always
// hold one item: `appended` begins them as `[x]`, one slot, where `[]` and a push grow to 16
// (~150 bytes) the search's scavenges then copy; a list with nothing is the shared `emptyList()`.
// A batch's lists (its starts, errors, hazards) begin as `emptyList()` itself, and `pushed`
// makes the one-slot array when the first item comes.
class EmptySet<T> extends Set<T> {
  override add(): this {
    throw new Error('engine: write to a shared empty set (use writable())');
  }
}
const EMPTY_SET: Set<never> = new EmptySet<never>();

export const emptySet = <T>(): Set<T> => EMPTY_SET as Set<T>;

/** The set itself, or a fresh one in place of the shared empty one. */
export function writable<T>(s: Set<T>): Set<T> {
  return s === EMPTY_SET ? new Set<T>() : s;
}

const EMPTY_LIST: readonly never[] = Object.freeze([]);

export const emptyList = <T>(): readonly T[] => EMPTY_LIST;

/** `xs` with `x` appended, or `[x]` when there is no list yet */
export function appended<T>(xs: T[] | undefined, x: T): T[] {
  if (xs === undefined) return [x];
  xs.push(x);
  return xs;
}

/**
 * `xs` with `x` appended: `xs` itself, or `[x]` in place of an empty one (which may be the shared
 * `emptyList()`): for a batch's lists, which most batches leave empty or give one item.
 */
export function pushed<T>(xs: T[], x: T): T[] {
  if (xs.length === 0) return [x];
  xs.push(x);
  return xs;
}

/** `m` less key `k`: a new empty Map when `k` is its last key (no shrink after the delete), else `m` itself */
export function withoutKey<K, V>(m: Map<K, V>, k: K): Map<K, V> {
  if (m.size === 1 && m.has(k)) return new Map();
  m.delete(k);
  return m;
}
