// Removal from the SDK's per-lock and per-record collections without V8's shrink. V8 shrinks a
// Set or Map left under half full after a delete (a runtime call and a new table), so a
// collection that goes from one member to none on every release (an uncontended lock's record
// in the reporter's sets, an owner's shared hold of a rwlock) paid that each time; a new empty
// collection costs about half of it (an uncontended acquire + release connected to a daemon, in a
// loop: 1.16-1.26 µs before, 0.56-0.84 µs after; bench row 4: 1.41-1.48 µs before, 1.24 µs after).
// The daemon's engine does the same (server/src/engine/empty.ts); the packages share no code.

/** `s` less `x`: a new empty set when `x` is its last member, else `s` itself */
export function without<T>(s: Set<T>, x: T): Set<T> {
  if (s.size === 1 && s.has(x)) return new Set();
  s.delete(x);
  return s;
}

/** `m` less key `k`: a new empty map when `k` is its last key, else `m` itself */
export function withoutKey<K, V>(m: Map<K, V>, k: K): Map<K, V> {
  if (m.size === 1 && m.has(k)) return new Map();
  m.delete(k);
  return m;
}
