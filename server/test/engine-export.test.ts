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

/** every kind of node and edge: rwlock shared/exclusive, semaphore units, a task wait, call sites, a deadlock */
function varied() {
  const { e, d } = deadlocked();
  const r = e.applyBatch('c1', [
    { type: 'resource', resource: 'rw', kind: 'rwlock', scope: 'local' },
    { type: 'resource', resource: 'pool', kind: 'semaphore', scope: 'global', capacity: 4 },
    { type: 'owner', owner: 'reader', name: 'reads "quoted"\nand a newline', priority: 3, abortable: false },
    { type: 'hold', owner: 'reader', resource: 'rw', mode: 'shared' },
    { type: 'hold', owner: 'writer', resource: 'pool', units: 3 },
    { type: 'wait', waitId: 'wx', owner: 'writer', resource: 'rw', mode: 'exclusive', stack: 'at f (a.js:1)\n  at g' },
    { type: 'wait', waitId: 'wp', owner: 'reader', resource: 'pool', units: 2 },
    { type: 'owner', owner: 'writer' },
    { type: 'wait', waitId: 'wt', owner: 'joiner', task: 'writer' },
  ]);
  assert.deepEqual(r.errors, []);
  return { e, d };
}

test('nodeJson / edgeJson write exactly JSON.stringify(node(i)) / JSON.stringify(edge(i))', () => {
  const { e } = varied();
  for (const blockedOnly of [false, true]) {
    const c = captureGraph(e.engine, { blockedOnly });
    assert.ok(c.nodeCount > 5 && c.edgeCount > 4);
    for (let i = 0; i < c.nodeCount; i++) assert.equal(c.nodeJson(i), JSON.stringify(c.node(i)));
    for (let i = 0; i < c.edgeCount; i++) {
      assert.equal(c.edgeJson(i), JSON.stringify(c.edge(i)));
      assert.deepEqual(c.edgeEnds(i), [c.edge(i).source, c.edge(i).target]);
    }
    for (let i = 0; i < c.nodeCount; i++) assert.equal(c.nodeKey(i), c.node(i).key);
    const kinds = new Set(c.edges().map((x) => `${x.attributes.kind}:${x.attributes.mode ?? x.attributes.units ?? '-'}`));
    assert.ok(c.nodes().some((n) => n.attributes.kind === 'resource' && n.attributes.type === 'task'), 'a task-end resource');
    if (!blockedOnly) assert.ok(kinds.has('waits:exclusive') && kinds.has('holds:shared') && kinds.has('waits:2') && kinds.has('holds:3'), [...kinds].join(' '));
  }
});

test('a capture is detached: what the engine does afterwards does not show in it', () => {
  const { e } = varied();
  const c = captureGraph(e.engine);
  const before = JSON.stringify({ nodes: c.nodes(), edges: c.edges() });
  e.applyBatch('c1', [
    { type: 'owner', owner: 't1', name: 'renamed', priority: 9 },
    { type: 'release', owner: 'bystander', resource: 'idle' },
    { type: 'hold', owner: 'late', resource: 'idle' },
    { type: 'cancel', waitId: 'wp' },
    { type: 'end', owner: 'reader' },
  ]);
  assert.equal(JSON.stringify({ nodes: c.nodes(), edges: c.edges() }), before);
  assert.notEqual(JSON.stringify(captureGraph(e.engine).nodes()), JSON.stringify(c.nodes()), 'a new capture does see the changes');
});

test('maxNodes: at most that many nodes, edges only between them, truncated says so; edge keys are stable', () => {
  const { e } = varied();
  const whole = captureGraph(e.engine);
  const cut = captureGraph(e.engine, { maxNodes: 4 });
  assert.equal(cut.nodeCount, 4);
  assert.equal(cut.truncated, true);
  assert.equal(whole.truncated, false);
  const keys = new Set(cut.nodes().map((n) => n.key));
  assert.ok(cut.edges().every((x) => keys.has(x.source) && keys.has(x.target)));
  assert.deepEqual(captureGraph(e.engine).edges().map((x) => x.key), whole.edges().map((x) => x.key));
  assert.equal(new Set(whole.edges().map((x) => x.key)).size, whole.edgeCount, 'edge keys are unique');
});
