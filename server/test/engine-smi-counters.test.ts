// The engine's two ever-growing counters stay small integers (marks.ts says why): a graph's traversal
// stamps start again from 1 after its marks were reset, and the waits' arrival numbers
// are renumbered in their order. Both are crossed here by moving the counter to its limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph } from '../src/engine/graph.js';
import { SEQ_LIMIT } from '../src/engine/graph.js';
import { STAMP_LIMIT } from '../src/engine/marks.js';
import type { Engine } from '../src/engine/engine.js';
import { oneClientEngine } from './booked-engine.js';

const graphOf = (e: Engine): Graph => (e as unknown as { graph: Graph }).graph;

test('the stamps start again at their limit, and a node marked with the new first stamp before that is walked', () => {
  const { engine, send } = oneClientEngine();
  send(
    { type: 'resource', resource: 'a', kind: 'mutex', scope: 'local' },
    { type: 'resource', resource: 'b', kind: 'mutex', scope: 'local' },
    { type: 'hold', owner: 't1', resource: 'a' },
    { type: 'hold', owner: 't2', resource: 'b' },
    { type: 'wait', waitId: 'w1', owner: 't1', resource: 'b' },
  );
  const c = engine.engine.clients.get('c1')!;
  const nodes = [...c.owners.values(), ...c.resources.values()];
  // marks left by the stamps' previous round: equal to the first stamp after the restart, so
  // without the reset the walk would take every node for visited and miss the cycle
  for (const n of nodes) n.mark = 1;
  graphOf(engine.engine).stamps.from(STAMP_LIMIT);
  const r = send({ type: 'wait', waitId: 'w2', owner: 't2', resource: 'a' });
  assert.equal(r.deadlocks.length, 1, 'the cycle t1 -> b -> t2 -> a -> t1 is found right after the restart');
  for (const n of nodes) assert.ok(n.mark <= 1, `a mark of ${n.mark} is left from before the restart`);
});

test("the waits' arrival numbers are numbered again in their order at their limit, FIFO order kept", () => {
  const { engine, send } = oneClientEngine();
  send(
    { type: 'resource', resource: 'm', kind: 'mutex', scope: 'local', fifo: true },
    { type: 'resource', resource: 'x', kind: 'mutex', scope: 'local' },
    { type: 'hold', owner: 'h', resource: 'm' },
    { type: 'wait', waitId: 'q1', owner: 'q1', resource: 'm' },
    { type: 'wait', waitId: 'q2', owner: 'q2', resource: 'm' },
    { type: 'wait', waitId: 'qx', owner: 'qx', resource: 'x' },
  );
  const g = graphOf(engine.engine);
  g.seqFrom(SEQ_LIMIT - 1);
  send({ type: 'wait', waitId: 'q3', owner: 'q3', resource: 'm' }); // the last number below the limit
  send({ type: 'cancel', waitId: 'q1' });
  send({ type: 'wait', waitId: 'q4', owner: 'q4', resource: 'm' }); // the numbering starts again
  const c = engine.engine.clients.get('c1')!;
  const seqs = Object.fromEntries([...c.waits.values()].map((w) => [w.id, w.seq]));
  assert.deepEqual(seqs, { q2: 1, qx: 2, q3: 3, q4: 4 }, 'the live waits in their order, then the new one');
  const m = engine.engine.findResource('c1:m')!;
  assert.deepEqual([...m.queue].map((w) => w.id), ['q2', 'q3', 'q4'], 'the queue keeps its order');
  // and a cycle through that queue is still found: q4 (queued on m) holds x, and m's holder h asks for x
  send({ type: 'hold', owner: 'q4', resource: 'x' }, { type: 'cancel', waitId: 'qx' });
  const r = send({ type: 'wait', waitId: 'hx', owner: 'h', resource: 'x' });
  assert.equal(r.deadlocks.length, 1, 'h -> x -> q4 -> m (FIFO, behind q2 and q3) -> h');
});
