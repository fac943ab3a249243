// Shared empty sets. Most owners never wait and most resources are
// never queued on, so a Set per field (~150 bytes each, even empty)
// dominated the memory per hold. Fields start as these shared instances and
// get a collection of their own on first write (writable()), and go back to
// the shared one when they empty. (Holds use hold-index.ts instead.) Writing to a shared one is a bug: it throws.
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
