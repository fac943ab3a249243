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
  // Each node gets a number in visiting order (its Tarjan index); what the walk keeps per node
  // is in arrays by that number, and the explicit call stack in three parallel arrays: no
  // object per node or frame. A search over a 30k ring lives through many young-generation GCs,
  // and each copied every per-node object it still held.
  const index = new Map<T, number>();
  /** lowlink by index; DONE once the node's component was emitted (it is off the stack) */
  const low: number[] = [];
  const DONE = -1;
  const stack: T[] = [];
  const components: T[][] = [];
  let work = 0;
  const frameNode: number[] = [];
  const frameNext: (readonly T[])[] = [];
  const frameAt: number[] = [];
  const open = (n: T): void => {
    const i = low.length;
    index.set(n, i);
    low.push(i);
    stack.push(n);
    frameNode.push(i);
    frameNext.push(successors(n));
    frameAt.push(0);
  };

  for (const root of nodes) {
    if (index.has(root)) continue;
    open(root);
    while (frameNode.length > 0) {
      if (++work % STEP === 0) yield;
      const top = frameNode.length - 1;
      const i = frameNode[top] as number;
      const next = frameNext[top] as readonly T[];
      const at = frameAt[top] as number;
      if (at < next.length) {
        frameAt[top] = at + 1;
        const m = next[at] as T;
        const j = index.get(m);
        if (j === undefined) open(m);
        else if (low[j] !== DONE) low[i] = Math.min(low[i] as number, j);
        continue;
      }
      frameNode.pop();
      frameNext.pop();
      frameAt.pop();
      if (top > 0) {
        const p = frameNode[top - 1] as number;
        low[p] = Math.min(low[p] as number, low[i] as number);
      }
      if (low[i] === i) {
        const comp: T[] = [];
        let m: T;
        let j: number;
        do {
          m = stack.pop() as T;
          j = index.get(m) as number;
          low[j] = DONE;
          comp.push(m);
        } while (j !== i);
        components.push(comp);
      }
    }
  }
  return components;
}
