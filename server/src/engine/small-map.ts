// A map for the holds of one owner and the holders of one resource. Nearly
// always it has one entry (a task holds a lock or two; a mutex has one holder),
// and a JS Map costs ~180 bytes even then. Up to SMALL entries live in one
// interleaved array [k0, v0, k1, v1, …] (a linear scan over ≤ 8 keys is as
// fast as hashing); past that it switches to a Map, so a semaphore or rwlock
// with thousands of holders keeps O(1) lookups. Only the Map methods the
// engine uses are here.
const SMALL = 8;

export class SmallMap<K, V> {
  private flat: unknown[] | undefined = [];
  private big: Map<K, V> | undefined;

  get size(): number {
    return this.big ? this.big.size : (this.flat as unknown[]).length >> 1;
  }

  private indexOf(k: K): number {
    const f = this.flat as unknown[];
    for (let i = 0; i < f.length; i += 2) if (f[i] === k) return i;
    return -1;
  }

  get(k: K): V | undefined {
    if (this.big) return this.big.get(k);
    const i = this.indexOf(k);
    return i < 0 ? undefined : ((this.flat as unknown[])[i + 1] as V);
  }

  has(k: K): boolean {
    return this.big ? this.big.has(k) : this.indexOf(k) >= 0;
  }

  set(k: K, v: V): this {
    if (this.big) {
      this.big.set(k, v);
      return this;
    }
    const f = this.flat as unknown[];
    const i = this.indexOf(k);
    if (i >= 0) f[i + 1] = v;
    // A new exact-size array, not push(): push grows the backing store by half
    // again plus 16 slots, which would cost more than the Map we avoid.
    else if (f.length < SMALL * 2) this.flat = f.length === 0 ? [k, v] : [...f, k, v];
    else {
      this.big = new Map();
      for (let j = 0; j < f.length; j += 2) this.big.set(f[j] as K, f[j + 1] as V);
      this.big.set(k, v);
      this.flat = undefined;
    }
    return this;
  }

  delete(k: K): boolean {
    if (this.big) return this.big.delete(k);
    const f = this.flat as unknown[];
    const i = this.indexOf(k);
    if (i < 0) return false;
    f.splice(i, 2);
    return true;
  }

  *keys(): IterableIterator<K> {
    if (this.big) return yield* this.big.keys();
    const f = this.flat as unknown[];
    for (let i = 0; i < f.length; i += 2) yield f[i] as K;
  }

  *values(): IterableIterator<V> {
    if (this.big) return yield* this.big.values();
    const f = this.flat as unknown[];
    for (let i = 1; i < f.length; i += 2) yield f[i] as V;
  }
}
