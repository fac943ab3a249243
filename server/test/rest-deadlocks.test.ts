// Deadlocks over REST: real deadlocks driven through raw WebSocket frames,
// read back as current cycles, history (with its filters), JSON and text reports.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, eventually, startTestDaemon, type TestDaemon } from './helpers.js';
import { answerAbort, crossAcrossClients, crossedPair, deadlockVia, get, getOk } from './rest-helpers.js';

interface Entry {
  id: string;
  namespace: string;
  detectedAt: number;
  status: string;
  resolvedAt: number | null;
  services: string[];
  signature: string;
  report: { id: string; members: { owner: string; service: string }[]; edges: unknown[]; victim: { owner: string; reason: string } | null; text: string; signature?: string };
}

interface Group {
  signature: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  pattern: string[];
  services: string[];
  latestId: string;
  latest: Entry | null;
}

describe('REST: deadlocks', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ disconnectGraceMs: 0, maxHistoryLimit: 50 });
  });
  after(() => daemon.close());

  it('an aborting deadlock is a current cycle; once answered it is resolved in the history', async () => {
    const { client } = await connectClient(daemon.wsUrl, { service: 'payments' });
    const id = await deadlockVia(client, 'p-');

    const { cycles } = await getOk<{ cycles: Entry[] }>(daemon.url, '/v1/cycles');
    const cycle = cycles.find((c) => c.id === id);
    assert.ok(cycle, 'the deadlock is current');
    assert.equal(cycle.status, 'aborting');
    assert.equal(cycle.namespace, 'default');
    assert.deepEqual(cycle.services, ['payments']);
    assert.deepEqual(cycle.report.members.map((m) => m.owner).sort(), ['p-a', 'p-b']);
    assert.equal(cycle.report.victim?.owner.endsWith('/p-a'), true);

    const one = await getOk<Entry>(daemon.url, `/v1/deadlocks/${id}`);
    assert.equal(one.id, id);
    assert.equal(one.status, 'aborting');
    assert.equal(one.resolvedAt, null);
    assert.equal(one.report.edges.length, 2);

    const text = await get(daemon.url, `/v1/deadlocks/${id}/text`);
    assert.equal(text.status, 200);
    assert.match(text.type, /^text\/plain/);
    assert.equal(text.text, one.report.text.endsWith('\n') ? one.report.text : `${one.report.text}\n`);
    assert.match(text.text, /task p-a/);
    assert.match(text.text, /task p-b/);
    assert.match(text.text, /waits for/);

    // the picture: a standalone SVG with one box per member, one resource per edge, the victim tagged
    const svg = await get(daemon.url, `/v1/deadlocks/${id}/svg`);
    assert.equal(svg.status, 200);
    assert.match(svg.type, /^image\/svg\+xml/);
    assert.match(svg.text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal(svg.text.match(/<g class="member"/g)?.length, 2);
    assert.equal(svg.text.match(/<g class="res"/g)?.length, 2);
    assert.match(svg.text, />task p-a<\/text>/);
    assert.match(svg.text, />task p-b<\/text>/);
    assert.equal(svg.text.match(/>victim<\/text>/g)?.length, 1);
    assert.match(svg.text, /<\/svg>\n$/);

    await answerAbort(client, id, 'p-wa');
    const after = await getOk<{ cycles: Entry[] }>(daemon.url, '/v1/cycles');
    assert.equal(after.cycles.find((c) => c.id === id), undefined, 'no longer current');
    const resolved = await getOk<Entry>(daemon.url, `/v1/deadlocks/${id}`);
    assert.equal(resolved.status, 'resolved');
    assert.equal(typeof resolved.resolvedAt, 'number');
    await client.close();
  });

  it('an unresolvable deadlock (no abortable member) stays current as unresolvable', async () => {
    const { client } = await connectClient(daemon.wsUrl, { service: 'batch' });
    client.send({ type: 'events', seq: 1, events: crossedPair({ abortable: false, prefix: 'u-' }) });
    const report = (await client.next('deadlock')).report;
    assert.equal(report.resolution, 'unresolvable');
    const { cycles } = await getOk<{ cycles: Entry[] }>(daemon.url, '/v1/cycles');
    const cycle = cycles.find((c) => c.id === report.id);
    assert.equal(cycle?.status, 'unresolvable');
    assert.equal(cycle?.report.victim, null);
    await client.close(); // grace 0: its owners leave, the deadlock ends
    await eventually(async () => (await getOk<Entry>(daemon.url, `/v1/deadlocks/${report.id}`)).status === 'resolved', 'the deadlock is resolved');
    const { deadlocks } = await getOk<{ deadlocks: Entry[] }>(daemon.url, '/v1/deadlocks?service=batch');
    assert.equal(deadlocks[0]?.id, report.id);
  });

  it('a cross-client deadlock shows as confirming while its confirm round is open', async () => {
    const { one, two } = await crossAcrossClients(daemon.wsUrl, { prefix: 'c-g', services: ['orders', 'stock'], owners: ['x', 'y'], waitIds: ['wx', 'wy'] });
    await one.next('confirm');
    await two.next('confirm');

    const { cycles } = await getOk<{ cycles: Entry[] }>(daemon.url, '/v1/cycles');
    const cycle = cycles.find((c) => c.services.includes('orders'));
    assert.ok(cycle);
    assert.equal(cycle.status, 'confirming');
    assert.deepEqual(cycle.services, ['orders', 'stock']);
    const byId = await getOk<Entry>(daemon.url, `/v1/deadlocks/${cycle.id}`);
    assert.equal(byId.status, 'confirming');
    const history = await getOk<{ deadlocks: Entry[] }>(daemon.url, '/v1/deadlocks?service=orders');
    assert.equal(history.deadlocks.length, 0, 'not in the history before it is resolved');
    await one.close();
    await two.close();
  });

  it('history: newest first, `limit`, `service` and `since` (epoch ms and ISO) filter it', async () => {
    const start = Date.now();
    const ids: string[] = [];
    for (const service of ['alpha', 'beta', 'alpha']) {
      const { client } = await connectClient(daemon.wsUrl, { service });
      const id = await deadlockVia(client, `h${ids.length}-`);
      ids.push(id);
      await answerAbort(client, id, `h${ids.length - 1}-wa`);
      await client.close();
    }
    const all = await getOk<{ total: number; deadlocks: Entry[] }>(daemon.url, `/v1/deadlocks?since=${start}`);
    assert.deepEqual(all.deadlocks.map((d) => d.id), [...ids].reverse(), 'newest first');
    assert.equal(all.total, 3);

    const limited = await getOk<{ total: number; deadlocks: Entry[] }>(daemon.url, `/v1/deadlocks?since=${start}&limit=1`);
    assert.deepEqual(limited.deadlocks.map((d) => d.id), [ids[2]]);
    assert.equal(limited.total, 3, 'total counts every match');

    const alpha = await getOk<{ deadlocks: Entry[] }>(daemon.url, `/v1/deadlocks?since=${start}&service=alpha`);
    assert.deepEqual(alpha.deadlocks.map((d) => d.id), [ids[2], ids[0]]);
    assert.ok(alpha.deadlocks.every((d) => d.services.includes('alpha')));

    const iso = new Date(start).toISOString();
    const byIso = await getOk<{ deadlocks: Entry[] }>(daemon.url, `/v1/deadlocks?since=${encodeURIComponent(iso)}&service=beta`);
    assert.deepEqual(byIso.deadlocks.map((d) => d.id), [ids[1]]);

    const future = await getOk<{ total: number }>(daemon.url, `/v1/deadlocks?since=${Date.now() + 60_000}`);
    assert.equal(future.total, 0);

    const defaultLimit = await getOk<{ deadlocks: Entry[] }>(daemon.url, '/v1/deadlocks');
    assert.ok(defaultLimit.deadlocks.length >= 3);
  });

  it('recurring deadlocks: one group per signature with its count, first and last seen, pattern and latest entry', async () => {
    const start = Date.now();
    const ids: string[] = [];
    // the same code three times (other owners and mutex numbers), then another service once
    for (const [service, prefix] of [['grouped', 'g1-'], ['grouped', 'g2-'], ['grouped-other', 'g3-'], ['grouped', 'g4-']] as const) {
      const { client } = await connectClient(daemon.wsUrl, { service });
      const id = await deadlockVia(client, prefix);
      ids.push(id);
      await answerAbort(client, id, `${prefix}wa`);
      await client.close();
    }
    const { deadlocks } = await getOk<{ deadlocks: Entry[] }>(daemon.url, `/v1/deadlocks?since=${start}`);
    const sig = (id: string | undefined) => deadlocks.find((d) => d.id === id)?.signature;
    assert.match(sig(ids[0]!) ?? '', /^DS-[0-9a-f]{10}$/);
    assert.equal(sig(ids[1]), sig(ids[0]));
    assert.equal(sig(ids[3]), sig(ids[0]));
    assert.notEqual(sig(ids[2]), sig(ids[0]), 'another service is another pattern');
    assert.ok(deadlocks.every((d) => d.signature === d.report.signature), 'the entry carries its report\'s signature');

    const grouped = await getOk<{ total: number; groups: Group[] }>(daemon.url, `/v1/deadlocks?group=signature&since=${start}`);
    assert.equal(grouped.total, 2);
    const [newest, other] = grouped.groups;
    assert.equal(newest?.signature, sig(ids[0]), 'the most recently seen group first');
    assert.equal(newest?.count, 3);
    assert.equal(newest?.latestId, ids[3]);
    assert.equal(newest?.latest?.id, ids[3]);
    assert.equal(newest?.latest?.status, 'resolved');
    assert.deepEqual(newest?.services, ['grouped']);
    assert.ok(newest!.firstSeen < newest!.lastSeen);
    assert.equal(newest?.firstSeen, deadlocks.find((d) => d.id === ids[0])?.detectedAt);
    assert.equal(newest?.lastSeen, deadlocks.find((d) => d.id === ids[3])?.detectedAt);
    assert.deepEqual(newest?.pattern, ['grouped waits for grouped:g#-m#, held by grouped']);
    assert.equal(other?.count, 1);
    assert.equal(other?.latestId, ids[2]);

    // the filters: service, signature, limit
    const byService = await getOk<{ groups: Group[] }>(daemon.url, '/v1/deadlocks?group=signature&service=grouped-other');
    assert.deepEqual(byService.groups.map((g) => g.signature), [sig(ids[2])]);
    const bySignature = await getOk<{ total: number; deadlocks: Entry[] }>(daemon.url, `/v1/deadlocks?signature=${sig(ids[0])}`);
    assert.deepEqual(bySignature.deadlocks.map((d) => d.id), [ids[3], ids[1], ids[0]]);
    const limited = await getOk<{ total: number; groups: Group[] }>(daemon.url, `/v1/deadlocks?group=signature&since=${start}&limit=1`);
    assert.equal(limited.total, 2);
    assert.equal(limited.groups.length, 1);
  });

  it('current cycles carry their signature too', async () => {
    const { client } = await connectClient(daemon.wsUrl, { service: 'grouped' });
    const id = await deadlockVia(client, 'g5-');
    const { cycles } = await getOk<{ cycles: Entry[] }>(daemon.url, '/v1/cycles');
    const grouped = await getOk<{ groups: Group[] }>(daemon.url, '/v1/deadlocks?group=signature&service=grouped');
    assert.equal(cycles.find((c) => c.id === id)?.signature, grouped.groups.find((g) => g.count >= 4)?.signature);
    await answerAbort(client, id, 'g5-wa');
    await client.close();
  });

  it('bad query parameters are 400 BAD_REQUEST', async () => {
    for (const q of ['since=yesterday', 'since=-5', 'limit=0', 'limit=51', 'limit=abc', 'limit=2.5', 'service=', 'group=service', 'signature=']) {
      const r = await get<{ code: string; message: string }>(daemon.url, `/v1/deadlocks?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.code, 'BAD_REQUEST', q);
      assert.equal(typeof r.body.message, 'string');
    }
    const r = await get<{ code: string }>(daemon.url, '/v1/graph?blocked=maybe');
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'BAD_REQUEST');
  });

  it('unknown deadlocks and routes are 404 NOT_FOUND', async () => {
    for (const path of ['/v1/deadlocks/no-such-id', '/v1/deadlocks/no-such-id/text', '/v1/deadlocks/no-such-id/svg', '/v1/no-such-route']) {
      const r = await get<{ code: string; message: string }>(daemon.url, path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.code, 'NOT_FOUND', path);
      assert.ok(r.body.message.length > 0);
    }
  });
});
