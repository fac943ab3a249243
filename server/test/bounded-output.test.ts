// What the daemon builds for one client's doing is bounded: a deadlock report
// lists a capped number of members/holds/edges and counts the rest (an owner
// holding 40,000 resources once made a 55 MB abort frame); /v1/graph returns
// at most `limit` nodes and says it cut; the dashboard draws at most
// --max-drawn-nodes, blocked view included; the history is bounded in bytes;
// owners/holds are bounded per namespace, not only per client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { LiveFrame } from '../src/dashboard/index.js';
import { DeadlockHistory } from '../src/history.js';
import { connectClient, ev, startTestDaemon, type TestDaemon } from './helpers.js';
import { get } from './rest-helpers.js';

const mutexes = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ev.mutex(`${prefix}${i}`));

describe('bounded reports, graph exports and dashboard frames', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ maxReportMembers: 4, maxReportHolds: 5, maxReportEdges: 6, maxGraphNodes: 20, maxDrawnNodes: 10, disconnectGraceMs: 0 });
  });
  after(() => daemon.close());

  it('an owner holding 300 resources that relocks one: the abort lists 5 holds and counts the rest', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    client.send({ type: 'events', seq: 1, events: [ev.owner('big'), ...mutexes('r', 300), ...Array.from({ length: 300 }, (_, i) => ev.hold('big', `r${i}`))] });
    await client.barrier();
    client.send({ type: 'events', seq: 2, events: [ev.wait('again', 'big', 'r7')] });
    const abort = await client.next('abort');
    const [m] = abort.report.members;
    assert.equal(m?.holds.length, 5);
    assert.equal(m?.holdsTotal, 300);
    assert.match(abort.report.text, /… and 295 more holds/);
    assert.ok(JSON.stringify(abort).length < 4_000, `abort frame of ${JSON.stringify(abort).length} bytes`);
    await client.close();
  });

  it('a ring of 12 members: 4 listed (the victim first), all counted; edges capped', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    const n = 12;
    const evs: object[] = [...mutexes('ring', n)];
    for (let i = 0; i < n; i++) evs.push(ev.owner(`o${i}`), ev.hold(`o${i}`, `ring${i}`));
    for (let i = 0; i < n; i++) evs.push(ev.wait(`w${i}`, `o${i}`, `ring${(i + 1) % n}`));
    client.send({ type: 'events', seq: 1, events: evs });
    const abort = await client.next('abort');
    const r = abort.report;
    assert.equal(r.members.length, 4);
    assert.equal(r.membersTotal, 12);
    assert.ok(r.edges.length <= 6, `${r.edges.length} edges`);
    assert.equal(r.edgesTotal, 12);
    assert.equal(`${r.members[0]?.client}/${r.members[0]?.owner}`, r.victim?.owner, 'the victim is listed');
    assert.match(r.text, /\(12 members\)/);
    assert.match(r.text, /… and 8 more members/);
    await client.close();
  });

  it('GET /v1/graph returns at most `limit` nodes (default --max-graph-nodes) and says it cut', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    client.send({ type: 'events', seq: 1, events: [...mutexes('g', 30), ...Array.from({ length: 30 }, (_, i) => ev.owner(`g${i}`)), ...Array.from({ length: 30 }, (_, i) => ev.hold(`g${i}`, `g${i}`))] });
    await client.barrier();
    type G = { attributes: { truncated?: boolean }; nodes: unknown[]; edges: { source: string; target: string }[] };
    const all = await get<G>(daemon.url, '/v1/graph');
    assert.equal(all.status, 200);
    assert.equal(all.body.nodes.length, 20);
    assert.equal(all.body.attributes.truncated, true);
    const keys = new Set((all.body.nodes as { key: string }[]).map((x) => x.key));
    assert.ok(all.body.edges.every((e) => keys.has(e.source) && keys.has(e.target)), 'no edge to a node left out');
    const few = await get<G>(daemon.url, '/v1/graph?limit=7');
    assert.equal(few.body.nodes.length, 7);
    assert.equal((await get(daemon.url, '/v1/graph?limit=21')).status, 400, 'limit above --max-graph-nodes');
    const dot = await get(daemon.url, '/v1/graph.dot?limit=5');
    assert.match(dot.text, /truncated: only the first 5 nodes/);
    await client.close();
  });

  it('the dashboard draws at most --max-drawn-nodes of the blocked part, and says so', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    const evs: object[] = [ev.mutex('hot'), ev.owner('holder'), ev.hold('holder', 'hot')];
    for (let i = 0; i < 40; i++) evs.push(ev.owner(`b${i}`), ev.wait(`bw${i}`, `b${i}`, 'hot'));
    client.send({ type: 'events', seq: 1, events: evs });
    await client.barrier();
    const ws = new WebSocket(`${daemon.url.replace(/^http/, 'ws')}/v1/live?view=blocked`);
    const frame = await new Promise<LiveFrame>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString()) as LiveFrame));
      ws.once('error', reject);
    });
    ws.close();
    assert.equal(frame.graph.nodes.length, 10);
    assert.equal(frame.capped, true);
    assert.equal(frame.maxDrawnNodes, 10);
    await client.close();
  });
});

describe('limits per namespace, over all its clients', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ maxOwnersPerNamespace: 3, maxHoldsPerNamespace: 2, disconnectGraceMs: 0 });
  });
  after(() => daemon.close());

  it('a second client cannot pass the namespace totals its own per-client limits allow', async () => {
    const { client: a } = await connectClient(daemon.wsUrl, { service: 'a' });
    a.send({ type: 'events', seq: 1, events: [ev.mutex('m1'), ev.mutex('m2'), ev.owner('a1'), ev.owner('a2'), ev.hold('a1', 'm1'), ev.hold('a2', 'm2')] });
    await a.barrier();
    assert.deepEqual(a.queued('error'), []);
    const { client: b } = await connectClient(daemon.wsUrl, { service: 'b' });
    b.send({ type: 'events', seq: 1, events: [ev.mutex('n'), ev.owner('b1'), ev.hold('b1', 'n'), ev.owner('b2')] });
    const holdErr = await b.next('error');
    assert.equal(holdErr.code, 'LIMIT_EXCEEDED');
    assert.deepEqual(holdErr.ref, { seq: 1, index: 2 });
    assert.match(holdErr.message, /namespace has 2 holds \(maxHoldsPerNamespace\)/);
    const ownerErr = await b.next('error');
    assert.equal(ownerErr.code, 'LIMIT_EXCEEDED');
    assert.deepEqual(ownerErr.ref, { seq: 1, index: 3 });
    assert.match(ownerErr.message, /namespace has 3 owners \(maxOwnersPerNamespace\)/);
    // room again once a's owners end
    a.send({ type: 'events', seq: 2, events: [{ type: 'end', owner: 'a1' }] });
    await a.barrier();
    b.send({ type: 'events', seq: 2, events: [ev.owner('b2'), ev.hold('b2', 'n')] });
    await b.barrier();
    assert.deepEqual(b.queued('error'), []);
    await a.close();
    await b.close();
  });
});

describe('history bounded in bytes', () => {
  // what the deadlock book hands the history when it acts on a deadlock
  const deadlock = (id: string, pad: number) => ({
    id,
    state: 'unresolvable' as const,
    endedAt: undefined,
    deadlock: {
      id,
      key: id,
      detectedAt: 0,
      members: [],
      waits: [],
      victims: [],
      reorders: [],
      clients: [],
      report: { id, namespace: 'n', detectedAt: 0, members: [], edges: [], victim: null, resolution: 'unresolvable' as const, text: 'x'.repeat(pad) },
    },
  });

  it('drops the oldest entries once the reports weigh more than maxBytes; always keeps the newest', () => {
    const h = new DeadlockHistory(1_000, 'n', 5_000);
    for (let i = 0; i < 10; i++) h.record(deadlock(`d${i}`, 1_000));
    assert.ok(h.bytes <= 5_000, `${h.bytes} bytes kept`);
    assert.ok(h.size >= 3 && h.size < 10, `${h.size} entries`);
    assert.equal(h.list()[0]?.id, 'd9');
    h.record(deadlock('huge', 20_000));
    assert.deepEqual(h.list().map((e) => e.id), ['huge'], 'one report bigger than the budget is still kept, alone');
  });
});
