// The live graph over REST (graphology JSON and DOT, whole or blocked part),
// owners, resources, clients, stats, the wire schema and the OpenAPI document.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import graphology from 'graphology';
import { buildServer, resolveConfig } from '../src/index.js';
import { connectClient, ev, eventually, startTestDaemon, type TestClient, type TestDaemon } from './helpers.js';
import { crossedPair, get, getOk, parseDot } from './rest-helpers.js';

const { MultiDirectedGraph } = graphology as unknown as { MultiDirectedGraph: typeof import('graphology').MultiDirectedGraph };

interface Exported {
  options: { type: string; multi: boolean };
  nodes: { key: string; attributes: { kind: string; deadlocks: string[]; label: string } }[];
  edges: { source: string; target: string; attributes: { kind: string } }[];
}

describe('REST: graph, owners, resources, clients', () => {
  let daemon: TestDaemon;
  let client: TestClient;
  let session: string;
  let deadlockId: string;

  before(async () => {
    daemon = await startTestDaemon({ disconnectGraceMs: 60_000 });
    const c = await connectClient(daemon.wsUrl, { service: 'inventory', instance: 'inv-1' });
    client = c.client;
    session = c.welcome.session;
    // an unresolvable deadlock (so it stays), an idle holder, and a FIFO queue of three on one mutex
    client.send({
      type: 'events',
      seq: 1,
      events: [
        ...crossedPair({ abortable: false }),
        ev.mutex('idle-lock'),
        ev.owner('idle', { name: 'idle holder' }),
        ev.hold('idle', 'idle-lock'),
        { ...ev.mutex('queue/lock'), fifo: true },
        ev.owner('q0', { name: 'first' }),
        ev.owner('q1'),
        ev.owner('q2'),
        ev.owner('q3'),
        ev.hold('q0', 'queue/lock'),
        ev.wait('w1', 'q1', 'queue/lock'),
        ev.wait('w2', 'q2', 'queue/lock'),
        ev.wait('w3', 'q3', 'queue/lock'),
      ],
    });
    deadlockId = (await client.next('deadlock')).report.id;
    await client.barrier();
  });
  after(async () => {
    await client.close();
    await daemon.close();
  });

  it('GET /v1/graph is graphology JSON: importable, deadlock members marked', async () => {
    const json = await getOk<Exported>(daemon.url, '/v1/graph');
    const g = MultiDirectedGraph.from(json as never);
    assert.ok(g.hasNode(`o:${session}/a`));
    assert.ok(g.hasNode(`o:${session}/idle`));
    assert.ok(g.hasNode(`r:${session}:m1`));
    assert.deepEqual(g.getNodeAttribute(`o:${session}/a`, 'deadlocks'), [deadlockId]);
    assert.deepEqual(g.getNodeAttribute(`o:${session}/idle`, 'deadlocks'), []);
    // a waits for m2 (owner → resource), m1 is held by a (resource → owner)
    assert.ok(g.someEdge(`o:${session}/a`, `r:${session}:m2`, (_e, attr) => attr['kind'] === 'waits'));
    assert.ok(g.someEdge(`r:${session}:m1`, `o:${session}/a`, (_e, attr) => attr['kind'] === 'holds'));
  });

  it('?blocked=true keeps only waiting owners, what they wait for and its holders', async () => {
    const json = await getOk<Exported>(daemon.url, '/v1/graph?blocked=true');
    const keys = new Set(json.nodes.map((n) => n.key));
    assert.ok(keys.has(`o:${session}/a`));
    assert.ok(keys.has(`o:${session}/q0`), 'the holder of what q1 waits for');
    assert.ok(!keys.has(`o:${session}/idle`), 'an owner neither waiting nor waited for is left out');
    assert.ok(!keys.has(`r:${session}:idle-lock`));
    const whole = await getOk<Exported>(daemon.url, '/v1/graph?blocked=false');
    assert.ok(whole.nodes.length > json.nodes.length);
  });

  it('GET /v1/graph.dot parses as a digraph with the same nodes and edges as the JSON', async () => {
    for (const q of ['', '?blocked=true']) {
      const r = await get(daemon.url, `/v1/graph.dot${q}`);
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/vnd\.graphviz/);
      const dot = parseDot(r.text);
      assert.equal(dot.kind, 'digraph');
      const json = await getOk<Exported>(daemon.url, `/v1/graph${q}`);
      assert.deepEqual([...dot.nodes.keys()].sort(), json.nodes.map((n) => n.key).sort());
      assert.deepEqual(
        dot.edges.map((e) => `${e.from}->${e.to}`).sort(),
        json.edges.map((e) => `${e.source}->${e.target}`).sort(),
      );
      if (q === '') assert.equal(dot.nodes.get(`o:${session}/a`)?.['color'], 'red', 'deadlock members drawn red');
    }
  });

  it('GET /v1/owners/:client/:owner shows holds and waits', async () => {
    const a = await getOk<{ owner: string; service: string; holds: { resource: string }[]; waits: { waitId: string; resource: string }[]; deadlocks: string[] }>(
      daemon.url,
      `/v1/owners/${session}/a`,
    );
    assert.equal(a.owner, 'a');
    assert.equal(a.service, 'inventory');
    assert.deepEqual(a.holds.map((h) => h.resource), [`${session}:m1`]);
    assert.deepEqual(a.waits.map((w) => [w.waitId, w.resource]), [['wa', `${session}:m2`]]);
    assert.deepEqual(a.deadlocks, [deadlockId]);
    const missing = await get<{ code: string }>(daemon.url, `/v1/owners/${session}/nobody`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'NOT_FOUND');
  });

  it('GET /v1/resources/:key (URL-encoded) shows holders and the FIFO queue in order', async () => {
    const key = `${session}:queue/lock`;
    const r = await getOk<{ resource: string; fifo: boolean; holders: { owner: string; name: string }[]; queue: { waitId: string; owner: string }[] }>(
      daemon.url,
      `/v1/resources/${encodeURIComponent(key)}`,
    );
    assert.equal(r.resource, key);
    assert.equal(r.fifo, true);
    assert.deepEqual(r.holders.map((h) => [h.owner, h.name]), [['q0', 'first']]);
    assert.deepEqual(r.queue.map((w) => w.waitId), ['w1', 'w2', 'w3']);
    const missing = await get<{ code: string }>(daemon.url, `/v1/resources/${encodeURIComponent('g:nothing')}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'NOT_FOUND');
  });

  it('GET /v1/clients lists connected clients and those in their grace period', async () => {
    const other = await connectClient(daemon.wsUrl, { service: 'billing', instance: 'bill-7' });
    let list = await getOk<{ clients: { id: string; service: string; instance: string; connectedAt: number; connected: boolean }[] }>(daemon.url, '/v1/clients');
    const mine = list.clients.find((c) => c.id === session);
    assert.deepEqual({ ...mine, connectedAt: typeof mine?.connectedAt }, { id: session, service: 'inventory', instance: 'inv-1', connectedAt: 'number', connected: true });
    assert.equal(list.clients.find((c) => c.id === other.welcome.session)?.connected, true);
    await other.client.close();
    await eventually(async () => {
      list = await getOk(daemon.url, '/v1/clients');
      return list.clients.find((c) => c.id === other.welcome.session)?.connected === false;
    }, 'the closed client shows as disconnected (in its grace period)');
  });

  it('GET /v1/stats reports this namespace', async () => {
    const s = await getOk<{ namespace: string; clients: number; graph: { owners: number; waits: number; activeDeadlocks: number }; resolver: { unresolvable: number } }>(daemon.url, '/v1/stats');
    assert.equal(s.namespace, 'default');
    assert.ok(s.clients >= 1);
    assert.ok(s.graph.owners >= 7);
    assert.equal(s.graph.activeDeadlocks, 1);
    assert.equal(s.resolver.unresolvable, 1);
  });

  it('GET /v1/schema/wire.json serves the protocol JSON Schema as in proto/schema/wire.json', async () => {
    const r = await get<Record<string, unknown>>(daemon.url, '/v1/schema/wire.json');
    assert.equal(r.status, 200);
    assert.match(r.type, /^application\/schema\+json/);
    const file = createRequire(import.meta.url).resolve('@deadlockd/proto/schema/wire.json');
    assert.deepEqual(r.body, JSON.parse(readFileSync(file, 'utf8')));
  });
});

describe('OpenAPI document', () => {
  it('/docs/json lists every HTTP route under /v1, and /docs serves the UI offline', async () => {
    const app = buildServer(resolveConfig({ port: 0, logLevel: 'silent', sweepIntervalMs: 0, historyFile: ':memory:' }));
    const routes: { url: string; method: string | string[]; websocket: boolean }[] = [];
    app.addHook('onRoute', (r) => {
      routes.push({ url: r.url, method: r.method, websocket: (r as { websocket?: boolean }).websocket === true });
    });
    try {
      await app.ready();
      const res = await app.inject('/docs/json');
      assert.equal(res.statusCode, 200);
      const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
      assert.match(doc.openapi, /^3\./);
      // fastify `:param` → OpenAPI `{param}`
      const documented = new Set(Object.keys(doc.paths));
      const v1 = routes.filter((r) => r.url.startsWith('/v1/') && !r.websocket && [r.method].flat().includes('GET'));
      assert.ok(v1.length >= 11);
      for (const r of v1) {
        const path = r.url.replace(/:(\w+)/g, '{$1}');
        assert.ok(documented.has(path), `${path} is documented`);
        assert.ok(doc.paths[path]?.['get']?.responses['200'], `${path} documents its 200 response`);
      }
      for (const path of ['/v1/cycles', '/v1/deadlocks', '/v1/deadlocks/{id}', '/v1/deadlocks/{id}/text', '/v1/deadlocks/{id}/svg', '/v1/graph', '/v1/graph.dot', '/v1/owners/{client}/{owner}', '/v1/resources/{key}', '/v1/clients', '/v1/stats', '/v1/schema/wire.json']) {
        assert.ok(documented.has(path), path);
      }
      const ui = await app.inject('/docs/');
      assert.equal(ui.statusCode, 200);
      assert.match(ui.body, /swagger-ui/);
      assert.doesNotMatch(ui.body, /https?:\/\/(?!127\.0\.0\.1|localhost)[^"']*\.(js|css)/, 'no assets from a CDN');
      const bundle = await app.inject('/docs/static/swagger-ui-bundle.js');
      assert.equal(bundle.statusCode, 200);
    } finally {
      await app.close();
    }
  });
});
