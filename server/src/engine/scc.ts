// Strongly connected components, Tarjan's algorithm with an explicit stack.
// graphology-components' SCC recurses and overflows the call stack on a chain
// of ~20,000 nodes; a deadlock detector must not crash on a deep graph, so the
// walk keeps its own stack on the heap, and yields every STEP nodes and edges
// (steps.ts) so that a big graph can be walked in slices.
import { STEP, type Steps } from './steps.js';

export function* stronglyConnectedSteps<T>(
  nodes: Iterable<T>,
  /** a node's successors, as an array (walked by index: no iterator, no result object per edge) */
  successors: (node: T) => readonly T[],
): Steps<T[][]> {
  const index = new Map<T, number>();
  const low = new Map<T, number>();
  const onStack = new Set<T>();
  const stack: T[] = [];
  const components: T[][] = [];
  let next = 0;
  let work = 0;

  type Frame = { node: T; next: readonly T[]; at: number };
  for (const root of nodes) {
    if (index.has(root)) continue;
    const frames: Frame[] = [];
    const open = (n: T): void => {
      index.set(n, next);
      low.set(n, next);
      next++;
      stack.push(n);
      onStack.add(n);
      frames.push({ node: n, next: successors(n), at: 0 });
    };
    open(root);
    while (frames.length > 0) {
      if (++work % STEP === 0) yield;
      const f = frames[frames.length - 1] as Frame;
      if (f.at < f.next.length) {
        const m = f.next[f.at++] as T;
        if (!index.has(m)) open(m);
        else if (onStack.has(m)) low.set(f.node, Math.min(low.get(f.node)!, index.get(m)!));
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(f.node)!));
      if (low.get(f.node) === index.get(f.node)) {
        const comp: T[] = [];
        let m: T;
        do {
          m = stack.pop() as T;
          onStack.delete(m);
          comp.push(m);
        } while (m !== f.node);
        components.push(comp);
      }
    }
  }
  return components;
}
