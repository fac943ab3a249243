// Auth on the SDK stream: `hello` must carry a valid token, which picks the
// namespace; namespaces are separate graphs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '@deadlockd/proto';
import { TestClient, connectClient, ev, startTestDaemon, type HelloOptions, type TestDaemon } from './helpers.js';
import { get, getOk } from './rest-helpers.js';

const TOKENS = { 'tok-one-7f3a': 'ns1', 'tok-two-9c1e': 'ns2', 'tok-one-bis': 'ns1' };
const T1 = 'tok-one-7f3a';
const T2 = 'tok-two-9c1e';

function hello(token?: string, extra: Record<string, unknown> = {}) {
  return { type: 'hello', protocol: PROTOCOL_VERSION, service: 'svc', instance: 'i-1', ...(token === undefined ? {} : { token }), ...extra };
}

/** connect + hello with the token (service 'svc' unless given) + welcome */
const connectWith = (url: string, token: string, extra: HelloOptions = {}) => connectClient(url, { service: 'svc', instance: 'i-1', ...extra, token });

describe('auth on the stream', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ tokens: TOKENS, disconnectGraceMs: 60_000 });
  });
  after(() => daemon.close());

  for (const [name, token] of [['without a token', undefined], ['with a wrong token', 'tok-one-7f3b'], ['with an empty token', ''], ['with a prefix of a token', 'tok-one']] as const) {
    it(`hello ${name} gets a fatal UNAUTHORIZED and the connection closes`, async () => {
      const client = await TestClient.connect(daemon.wsUrl);
      client.send(hello(token));
      const err = await client.next('error');
      assert.equal(err.code, 'UNAUTHORIZED');
      assert.equal(err.fatal, true);
      const closed = await client.waitClosed();
      assert.equal(closed.code, 1008);
      assert.equal(client.queued('welcome').length, 0);
      // neither the configured token nor the one this hello sent
      for (const t of ['tok-one-7f3a', ...(token ? [token] : [])])
        assert.equal(daemon.logs.some((l) => JSON.stringify(l).includes(t)), false, `token '${t}' never reaches the log`);
    });
  }

  it('nothing but hello is accepted before the token is checked', async () => {
    const client = await TestClient.connect(daemon.wsUrl);
    client.send({ type: 'events', seq: 1, events: [ev.owner('x')] });
    assert.equal((await client.next('error')).code, 'HELLO_REQUIRED');
    await client.waitClosed();
  });

  it("a valid token attaches the client in the token's namespace; welcome says which", async () => {
    const one = await connectWith(daemon.wsUrl, T1);
    const two = await connectWith(daemon.wsUrl, T2);
    const bis = await connectWith(daemon.wsUrl, 'tok-one-bis');
    assert.equal(one.welcome.namespace, 'ns1');
    assert.equal(two.welcome.namespace, 'ns2');
    assert.equal(bis.welcome.namespace, 'ns1', 'two tokens may share a namespace');
    const hub = daemon.app.deadlockd.hub;
    assert.equal(hub.client(one.welcome.session)?.namespace, 'ns1');
    assert.equal(hub.client(two.welcome.session)?.namespace, 'ns2');
    for (const c of [one, two, bis]) await c.client.close();
  });

  it('namespaces are independent graphs: the same shared resources crossed in ns1 and ns2 make no deadlock; a deadlock in ns1 is invisible in ns2', async () => {
    const decl = [ev.mutex('shared-x', 'global'), ev.mutex('shared-y', 'global')];
    // ns1's client holds x and waits for y; ns2's client holds y and waits for x.
    // Within one namespace that would be a deadlock; across two it is not.
    const a = await connectWith(daemon.wsUrl, T1, { service: 'svc-a' });
    const b = await connectWith(daemon.wsUrl, T2, { service: 'svc-b' });
    a.client.send({ type: 'events', seq: 1, events: [...decl, ev.owner('oa'), ev.hold('oa', 'shared-x')] });
    b.client.send({ type: 'events', seq: 1, events: [...decl, ev.owner('ob'), ev.hold('ob', 'shared-y')] });
    await a.client.barrier();
    await b.client.barrier();
    a.client.send({ type: 'events', seq: 2, events: [ev.wait('wa', 'oa', 'shared-y')] });
    b.client.send({ type: 'events', seq: 2, events: [ev.wait('wb', 'ob', 'shared-x')] });
    await a.client.barrier();
    await b.client.barrier();
    for (const c of [a.client, b.client]) {
      assert.equal(c.queued('confirm').length + c.queued('abort').length + c.queued('deadlock').length, 0, 'no deadlock across namespaces');
    }
    // each namespace sees only its own client's part, as held-or-free resources
    const g1 = await getOk<{ nodes: { key: string }[] }>(daemon.url, '/v1/graph', T1);
    const g2 = await getOk<{ nodes: { key: string }[] }>(daemon.url, '/v1/graph', T2);
    assert.ok(g1.nodes.some((n) => n.key === `o:${a.welcome.session}/oa`));
    assert.ok(!g1.nodes.some((n) => n.key.includes(b.welcome.session)));
    assert.ok(g2.nodes.some((n) => n.key === `o:${b.welcome.session}/ob`));
    assert.ok(!g2.nodes.some((n) => n.key.includes(a.welcome.session)));

    // now a real deadlock in ns1: a second ns1 client closes the cycle
    const c = await connectWith(daemon.wsUrl, 'tok-one-bis', { service: 'svc-c' });
    c.client.send({ type: 'events', seq: 1, events: [...decl, ev.owner('oc', { priority: 9 }), ev.hold('oc', 'shared-y')] });
    await c.client.barrier();
    // oa (ns1) waits for y, held by oc (ns1); oc now waits for x, held by oa
    c.client.send({ type: 'events', seq: 2, events: [ev.wait('wc', 'oc', 'shared-x')] });
    const ca = await a.client.next('confirm');
    const cc = await c.client.next('confirm');
    a.client.send({ type: 'confirm_result', check: ca.check, pending: ca.waits });
    c.client.send({ type: 'confirm_result', check: cc.check, pending: cc.waits });
    const abort = await a.client.next('abort');
    const id = abort.deadlock;
    assert.equal(abort.report.namespace, 'ns1');

    const seen1 = await getOk<{ deadlocks: { id: string }[] }>(daemon.url, '/v1/deadlocks', T1);
    assert.ok(seen1.deadlocks.some((d) => d.id === id));
    const cycles1 = await getOk<{ cycles: { id: string }[] }>(daemon.url, '/v1/cycles', T1);
    assert.ok(cycles1.cycles.some((d) => d.id === id));

    const seen2 = await getOk<{ deadlocks: unknown[] }>(daemon.url, '/v1/deadlocks', T2);
    assert.equal(seen2.deadlocks.length, 0);
    const cycles2 = await getOk<{ cycles: unknown[] }>(daemon.url, '/v1/cycles', T2);
    assert.equal(cycles2.cycles.length, 0);
    assert.equal(b.client.queued('deadlock').length + b.client.queued('abort').length, 0, 'ns2 clients hear nothing of it');
    for (const path of [`/v1/deadlocks/${id}`, `/v1/deadlocks/${id}/text`, `/v1/deadlocks/${id}/svg`, `/v1/owners/${a.welcome.session}/oa`, `/v1/resources/${encodeURIComponent('g:shared-x')}`]) {
      const r = await get<{ code: string; report?: unknown }>(daemon.url, path, T2);
      if (path.startsWith('/v1/resources')) {
        // ns2 has its own g:shared-x: held by ob's namespace only, never ns1's owners
        assert.equal(r.status, 200);
        assert.ok(!r.text.includes(a.welcome.session), 'ns1 holders are not shown in ns2');
        continue;
      }
      assert.equal(r.status, 404, path);
      assert.deepEqual(Object.keys(r.body as object).sort(), ['code', 'message']);
      assert.equal(r.body.code, 'NOT_FOUND');
      assert.ok(!r.text.includes('svc-a'), 'no data of the other namespace in the error');
    }
    const clients2 = await getOk<{ clients: { id: string }[] }>(daemon.url, '/v1/clients', T2);
    const ids2 = clients2.clients.map((x) => x.id);
    assert.ok(ids2.includes(b.welcome.session));
    assert.ok(!ids2.includes(a.welcome.session) && !ids2.includes(c.welcome.session));
    assert.ok(ids2.every((id) => daemon.app.deadlockd.hub.client(id)?.namespace === 'ns2'), 'only ns2 clients (some from earlier tests, in their grace period)');
    const stats2 = await getOk<{ namespace: string; clients: number; graph: { activeDeadlocks: number } }>(daemon.url, '/v1/stats', T2);
    assert.equal(stats2.namespace, 'ns2');
    assert.equal(stats2.clients, ids2.length);
    assert.equal(stats2.graph.activeDeadlocks, 0);
    for (const x of [a, b, c]) await x.client.close();
  });

  it('a session cannot be resumed from another namespace', async () => {
    const one = await connectWith(daemon.wsUrl, T1);
    await one.client.close(); // grace period: resumable…
    const secret = one.welcome.resumeSecret!;
    const other = await connectWith(daemon.wsUrl, T2, { resume: one.welcome.session, resumeSecret: secret });
    assert.equal(other.welcome.resumed, false, '…but not with a token of another namespace');
    assert.notEqual(other.welcome.session, one.welcome.session);
    assert.equal(other.welcome.namespace, 'ns2');
    const again = await connectWith(daemon.wsUrl, 'tok-one-bis', { resume: one.welcome.session, resumeSecret: secret });
    assert.equal(again.welcome.resumed, true, 'another token of the same namespace may resume it');
    await other.client.close();
    await again.client.close();
  });
});
