// A search that can pause. The search (detect.ts, reduction.ts, scc.ts, the
// report) is written as generators that `yield` every STEP units of work; a
// yield carries nothing and means only "a good place to stop for now". Run to
// its end in one go (runToEnd) it is the plain synchronous search: tests, the
// re-decisions and every small deadlock take that path. The namespace drives a
// big one a slice at a time (Engine.applyBatch's `shouldYield`), so that a
// 30,000-member ring does not hold the event loop for a second while other
// namespaces and the REST API wait. The engine itself keeps no timer: when to
// stop is the caller's predicate.

/** A computation that pauses at its yields and returns T at its end. */
export type Steps<T> = Generator<void, T, void>;

/** units of work (owners reduced, nodes walked, edges described) between two yields */
export const STEP = 512;

export function runToEnd<T>(s: Steps<T>): T {
  for (;;) {
    const r = s.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs `s` until it ends or `stop()` says to pause (asked at each yield).
 * Returns `{ done: true, value }` or `{ done: false }` (call again to go on).
 */
export function runUntil<T>(s: Steps<T>, stop: () => boolean): { done: true; value: T } | { done: false } {
  for (;;) {
    const r = s.next();
    if (r.done) return { done: true, value: r.value };
    if (stop()) return { done: false };
  }
}

/** Calls `f` on each of `xs`, pausing every STEP of them. */
export function* eachStep<T>(xs: Iterable<T>, f: (x: T) => void): Steps<void> {
  let n = 0;
  if (Array.isArray(xs)) {
    // by index: for-of in a generator allocates a result object per item (a 30k ring's passes add up)
    const a = xs as readonly T[];
    for (let i = 0; i < a.length; i++) {
      f(a[i] as T);
      if (++n % STEP === 0) yield;
    }
    return;
  }
  for (const x of xs) {
    f(x);
    if (++n % STEP === 0) yield;
  }
}

/**
 * `xs` sorted by `cmp` (a new array, stable), pausing every STEP comparisons: a bottom-up
 * merge sort, so that sorting a 30,000-member deadlock (tens of ms of string compares in
 * Array.prototype.sort, which cannot pause) goes in slices too. Small inputs take sort().
 */
export function* sortSteps<T>(xs: readonly T[], cmp: (a: T, b: T) => number): Steps<T[]> {
  let from = xs.slice();
  if (from.length <= STEP) return from.sort(cmp);
  let to = new Array<T>(from.length);
  const n = from.length;
  let work = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      // the left one on ties: stable
      while (i < mid && j < hi) {
        to[k++] = cmp(from[j] as T, from[i] as T) < 0 ? (from[j++] as T) : (from[i++] as T);
        if (++work % STEP === 0) yield;
      }
      while (i < mid) to[k++] = from[i++] as T;
      while (j < hi) to[k++] = from[j++] as T;
    }
    [from, to] = [to, from];
  }
  return from;
}

// The array and set operations a search applies to all of a big deadlock's members (a
// filter, a membership set, an any/every test, a dedupe), in steps: each is a millisecond or
// more on a 30,000-member ring, and run back to back between two yields they held one slice
// for 4-7 ms (issue 11, "a ring closing"). Small inputs pay one generator, nothing else.

/** `xs.filter(keep)`, pausing every STEP items. */
export function* filterSteps<T>(xs: readonly T[], keep: (x: T) => boolean): Steps<T[]> {
  const out: T[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as T;
    if (keep(x)) out.push(x);
    if ((i + 1) % STEP === 0) yield;
  }
  return out;
}

/** The first of `xs` that passes `test` (undefined if none), pausing every STEP items. */
export function* findSteps<T>(xs: readonly T[], test: (x: T) => boolean): Steps<T | undefined> {
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as T;
    if (test(x)) return x;
    if ((i + 1) % STEP === 0) yield;
  }
  return undefined;
}

/** Whether any of `xs` passes `test`, pausing every STEP items. */
export function* someSteps<T>(xs: readonly T[], test: (x: T) => boolean): Steps<boolean> {
  for (let i = 0; i < xs.length; i++) {
    if (test(xs[i] as T)) return true;
    if ((i + 1) % STEP === 0) yield;
  }
  return false;
}

/** The set of `xs` (insertion order kept), pausing every STEP items. */
export function* setSteps<T>(xs: Iterable<T>): Steps<Set<T>> {
  const out = new Set<T>();
  yield* eachStep(xs, (x) => out.add(x));
  return out;
}

/** `xs` without repeats, in order, pausing every STEP items. */
export function* uniqueSteps<T>(xs: readonly T[]): Steps<T[]> {
  return xs.length < 2 ? xs.slice() : [...(yield* setSteps(xs))];
}
