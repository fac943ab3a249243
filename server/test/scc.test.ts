// Tarjan's strongly connected components (engine/scc.ts), against the definition: two nodes
// share a component exactly when each reaches the other; components come out sinks first
// (one with an edge into another comes after it), which detect.ts relies on; a deep chain
// does not overflow the stack; and the walk pauses in steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stronglyConnectedSteps } from '../src/engine/scc.js';
import { runToEnd, runUntil, STEP } from '../src/engine/steps.js';

function reach(adj: readonly number[][], from: number): Set<number> {
  const seen = new Set<number>([from]);
  const todo = [from];
  while (todo.length > 0)
    for (const m of adj[todo.pop() as number] ?? [])
      if (!seen.has(m)) {
        seen.add(m);
        todo.push(m);
      }
  return seen;
}

const graph = fc.integer({ min: 1, max: 30 }).chain((n) =>
  fc.array(fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 4 }), { minLength: n, maxLength: n }),
);

test('components are the mutual-reachability classes, each node in one, sinks first', () => {
  fc.assert(
    fc.property(graph, (adj) => {
      const nodes = adj.map((_, i) => i);
      const comps = runToEnd(stronglyConnectedSteps(nodes, (i) => adj[i] as number[]));
      const compOf = new Map<number, number>();
      comps.forEach((c, k) => c.forEach((x) => compOf.set(x, k)));
      assert.equal(compOf.size, nodes.length, 'every node in exactly one component');
      assert.equal(comps.flat().length, nodes.length);
      const reaches = nodes.map((i) => reach(adj, i));
      for (const u of nodes)
        for (const v of nodes) {
          const mutual = reaches[u]!.has(v) && reaches[v]!.has(u);
          assert.equal(compOf.get(u) === compOf.get(v), mutual, `nodes ${u} and ${v}`);
        }
      for (const u of nodes) for (const v of adj[u]!) if (compOf.get(u) !== compOf.get(v)) assert.ok(compOf.get(v)! < compOf.get(u)!, `edge ${u}->${v}: its target's component first`);
    }),
    { numRuns: 300 },
  );
});

test('a chain of 100,000 nodes closing into one ring: one component, no stack overflow, in steps', () => {
  const n = 100_000;
  const s = stronglyConnectedSteps([0], (i: number) => [(i + 1) % n]);
  let pauses = 0;
  for (;;) {
    const r = runUntil(s, () => true);
    if (r.done) {
      assert.equal(r.value.length, 1);
      assert.equal(r.value[0]!.length, n);
      break;
    }
    pauses++;
  }
  assert.ok(pauses >= (2 * n) / STEP - 2, `paused ${pauses} times`);
});
