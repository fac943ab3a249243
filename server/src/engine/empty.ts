// Collections sized for what they nearly always hold: nothing or one item.
//
// Shared empty sets. Most owners never wait and most resources are
// never queued on, so a Set per field (~150 bytes each, even empty)
// dominated the memory per hold. Fields start as these shared instances and
// get a collection of their own on first write (writable()), and go back to
// the shared one when they empty. (Holds use hold-index.ts instead.) Writing to a shared one is a bug: it throws.
//
// Lists made per member of a deadlock (a 30,000-member ring: 30,000 of each) that nearly always
// hold one item: `appended` begins them as `[x]`, one slot, where `[]` and a push grow to 16
// (~150 bytes) the search's scavenges then copy; a list with nothing is the shared `emptyList()`.
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
