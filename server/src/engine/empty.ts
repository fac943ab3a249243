// Shared empty collections. Most owners never wait and most resources are
// never queued on, so a Set or Map per field (150–180 bytes each, even empty)
// dominated the memory per hold. Fields start as these shared instances and
// get a collection of their own on first write (writable()), and go back to
// the shared one when they empty. Writing to a shared one is a bug: it throws.
class EmptySet<T> extends Set<T> {
  override add(): this {
    throw new Error('engine: write to a shared empty set (use writable())');
  }
}
class EmptyMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('engine: write to a shared empty map (use writable())');
  }
}
const EMPTY_SET: Set<never> = new EmptySet<never>();
const EMPTY_MAP: Map<never, never> = new EmptyMap<never, never>();

export const emptySet = <T>(): Set<T> => EMPTY_SET as Set<T>;
export const emptyMap = <K, V>(): Map<K, V> => EMPTY_MAP as Map<K, V>;

/** The collection itself, or a fresh one in place of the shared empty one. */
export function writable<T>(s: Set<T>): Set<T>;
export function writable<K, V>(m: Map<K, V>): Map<K, V>;
export function writable(c: Set<unknown> | Map<unknown, unknown>): unknown {
  if (c === EMPTY_SET) return new Set();
  if (c === EMPTY_MAP) return new Map();
  return c;
}
