// Small statistics helpers. Every figure the bench reports is a median (or a
// percentile) over repetitions, and every goal is a ratio of two medians
// measured side by side in the same run, so machine noise cancels out.

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Linear-interpolated percentile (p in 0..100) of an unsorted sample. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = ((s.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (pos - lo);
}

/** Deterministic PRNG (mulberry32): both sides of a comparison see the same "random" pattern. */
export function prng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `gc()` twice when node was started with --expose-gc (the memory measurement is). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Side by side: runs every variant once per round, alternating the order
 * (ABBA...) so drift in machine load hits both sides alike; after `warmup`
 * discarded rounds (JIT, caches), returns each variant's per-round values.
 * No forced gc() between rounds: measured here, a full collection leaves the
 * next round several times slower (young generation shrunk, caches cold),
 * which is noise, not the engine.
 */
export async function alternate(
  variants: readonly (() => number | Promise<number>)[],
  rounds: number,
  warmup = 1,
): Promise<number[][]> {
  const out: number[][] = variants.map(() => []);
  for (let r = -warmup; r < rounds; r++) {
    const order = variants.map((_, i) => i);
    if ((r + warmup) % 2 !== 0) order.reverse();
    for (const i of order) {
      const v = await (variants[i] as () => number | Promise<number>)();
      if (r >= 0) (out[i] as number[]).push(v);
    }
  }
  return out;
}
