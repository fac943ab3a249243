// 3b's floor: what the engine cannot avoid in a big graph. A wait names its resource and owner
// by string, and the engine finds them in its client's Map (V8's OrderedHashMap): a bucket, an
// entry, and the stored key's string header are three loads from three places, and in a graph
// far bigger than the caches each is a miss. Here, the same Maps without the engine: as many
// Maps as the fixture has clients (1k keys in one, 1M in twenty of 50k), string keys `m<i>` made
// as the fixture makes them, and a chain of lookups where each key comes from the value found
// before, so that the misses cannot overlap (as in the engine, where what a wait touches next
// depends on what it found). The ratio says how much of 3b's is the hardware's.
import { prng } from './stats.js';

interface Entry {
  /** the next lookup of the chain: its map and key */
  map: number;
  key: string;
}

export interface MapFloor {
  run: () => number;
}

/** `keys` string keys spread over maps of at most `perMap`, and a random chain through all of them. */
export function mapFloor(keys: number, perMap: number, steps: number, seed: number): MapFloor {
  const maps = Array.from({ length: Math.ceil(keys / perMap) }, () => new Map<string, Entry>());
  const rnd = prng(seed);
  // a random cyclic order over all keys (Sattolo), so the chain visits each once per lap
  const order = Array.from({ length: keys }, (_, i) => i);
  for (let i = keys - 1; i > 0; i--) {
    const j = Math.floor(rnd() * i);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const keyOf = (i: number): string => `m${i}`;
  const mapOf = (i: number): number => Math.floor(i / perMap);
  for (let k = 0; k < keys; k++) {
    const i = order[k] as number;
    const next = order[(k + 1) % keys] as number;
    (maps[mapOf(i)] as Map<string, Entry>).set(keyOf(i), { map: mapOf(next), key: keyOf(next) });
  }
  const first = order[0] as number;
  let at: Entry = { map: mapOf(first), key: keyOf(first) };
  return {
    /** ns per lookup over `steps` lookups, going on where the last run stopped */
    run(): number {
      const t0 = process.hrtime.bigint();
      let e = at;
      for (let s = 0; s < steps; s++) e = (maps[e.map] as Map<string, Entry>).get(e.key) as Entry;
      const ns = Number(process.hrtime.bigint() - t0) / steps;
      at = e;
      return ns;
    },
  };
}
