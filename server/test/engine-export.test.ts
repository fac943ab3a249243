// The graph users see: a capture in graphology's serialized form, the blocked part, DOT, details.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BookedEngine } from './booked-engine.js';
import graphology from 'graphology';
import { captureGraph, graphHeader, graphToDot, ownerDetail, resourceDetail, type GraphCapture } from '../src/engine/index.js';

const { MultiDirectedGraph } = graphology as unknown as { MultiDirectedGraph: typeof import('graphology').MultiDirectedGraph };

/** the capture as graphology imports it (what GET /v1/graph sends) */
const imported = (c: GraphCapture) => MultiDirectedGraph.from({ ...graphHeader(c), nodes: c.nodes(), edges: c.edges() } as never);

function deadlocked() {
  const e = new BookedEngine({ namespace: 'n' });
  e.addClient({ id: 'c1', service: 'pay', instance: 'i' });
  const r = e.applyBatch('c1', [
    { type: 'resource', resource: 'a', kind: 'mutex', scope: 'local' },
    { type: 'resource', resource: 'b', kind: 'mutex', scope: 'local' },
    { type: 'resource', resource: 'idle', kind: 'semaphore', scope: 'local', capacity: 3 },
    { type: 'owner', owner: 't1', name: 'transfer a->b' },
    { type: 'hold', owner: 't1', resource: 'a' },
    { type: 'hold', owner: 't2', resource: 'b' },
    { type: 'hold', owner: 'bystander', resource: 'idle', units: 2 },
    { type: 'wait', waitId: 'w1', owner: 't1', resource: 'b' },
    { type: 'wait', waitId: 'w2', owner: 't2', resource: 'a' },
  ]);
  assert.equal(r.deadlocks.length, 1);
  return { e, d: r.deadlocks[0]! };
}

test('captureGraph: owners and resources, waits and holds, deadlock members marked (graphology imports it)', () => {
  const { e, d } = deadlocked();
  const g = imported(captureGraph(e.engine));
  assert.equal(g.order, 6); // 3 owners + 3 resources
  assert.equal(g.size, 5); // 3 holds + 2 waits
  const t1 = g.getNodeAttributes('o:c1/t1');
  assert.equal(t1.kind, 'owner');
  assert.equal(t1.label, 'transfer a->b');
  assert.deepEqual(t1.deadlocks, [d.id]);
  assert.deepEqual(g.getNodeAttributes('o:c1/bystander').deadlocks, []);
  const waits = g.filterEdges((_k, a) => a['kind'] === 'waits');
  assert.equal(waits.length, 2);
  assert.equal(g.source(waits[0]!).startsWith('o:'), true, 'waits go owner → resource');
  const idle = g.getNodeAttributes('r:c1:idle');
  assert.ok(idle.kind === 'resource' && idle.capacity === 3 && idle.held === 2);
});

test('blockedOnly keeps the blocked part only; DOT renders it', () => {
  const { e } = deadlocked();
  const c = captureGraph(e.engine, { blockedOnly: true });
  const g = imported(c);
  assert.equal(g.hasNode('o:c1/bystander'), false);
  assert.equal(g.hasNode('r:c1:idle'), false);
  assert.equal(g.order, 4);
  const dot = graphToDot(c);
  assert.match(dot, /^digraph deadlockd \{/);
  assert.match(dot, /"o:c1\/t1" -> "r:c1:b" \[style=dashed/);
  assert.match(dot, /color=red/);
});

test('owner and resource details', () => {
  const { e } = deadlocked();
  const o = ownerDetail(e.engine, 'c1', 't1')!;
  assert.deepEqual(o.holds.map((h) => h.label), ['a']);
  assert.deepEqual(o.waits.map((w) => w.waitId), ['w1']);
  const r = resourceDetail(e.engine, 'c1:a')!;
  assert.deepEqual(r.holders.map((h) => h.owner), ['t1']);
  assert.deepEqual(r.queue.map((w) => w.owner), ['t2']);
  assert.equal(resourceDetail(e.engine, 'c1:nope'), undefined);
  assert.equal(ownerDetail(e.engine, 'c1', 'nope'), undefined);
});
