// GET /v1/waits: the long waits of a namespace, oldest first, with whether each is part of a
// deadlock — a slow holder's waiters show up here, and nobody is aborted for them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, ev, startTestDaemon, type TestClient, type TestDaemon } from './helpers.js';
import { crossedPair, get, getOk } from './rest-helpers.js';

interface Waits {
  total: number;
  waits: { waitId: string; service: string; name: string; label: string; ageMs: number; inDeadlock: boolean; stack?: string }[];
}

describe('REST: long waits', () => {
  let daemon: TestDaemon;
  let client: TestClient;

  before(async () => {
    daemon = await startTestDaemon({ disconnectGraceMs: 60_000 });
    client = (await connectClient(daemon.wsUrl, { service: 'orders' })).client;
    const now = Date.now();
    client.send({
      type: 'events',
      seq: 1,
      events: [
        // an unresolvable deadlock, its waits 2 s old
        ...crossedPair({ abortable: false }).map((e) => ((e as { type: string }).type === 'wait' ? { ...(e as object), since: now - 2_000 } : e)),
        // a slow holder: one waiter for 60 s, one that just started
        ev.mutex('slow'),
        ev.owner('holder', { name: 'long transaction' }),
        ev.hold('holder', 'slow'),
        { ...ev.wait('w-old', 'old', 'slow'), since: now - 60_000, stack: 'Error\n    at checkout (orders.js:1:1)' },
        { ...ev.wait('w-new', 'new', 'slow'), since: now },
      ],
    });
    await client.barrier();
    assert.deepEqual(client.queued('error'), []);
  });
  after(async () => {
    await client.close();
    await daemon.close();
  });

  it('lists waits older than minAgeMs, oldest first, marking the deadlocked ones', async () => {
    const r = await getOk<Waits>(daemon.url, '/v1/waits?minAgeMs=1000');
    assert.equal(r.total, 3);
    assert.equal(r.waits[0]?.waitId, 'w-old', 'the oldest first');
    assert.deepEqual(r.waits.slice(1).map((w) => w.waitId).sort(), ['wa', 'wb']);
    const [oldest] = r.waits;
    assert.equal(oldest?.service, 'orders');
    assert.equal(oldest?.label, 'slow');
    assert.ok((oldest?.ageMs ?? 0) >= 60_000);
    assert.equal(oldest?.inDeadlock, false, 'a slow holder is no deadlock');
    assert.match(oldest?.stack ?? '', /checkout/);
    assert.ok(r.waits.slice(1).every((w) => w.inDeadlock), 'the crossed pair is');
    assert.equal(client.queued('abort').length, 0, 'nobody aborted for a long wait');
  });

  it('limit cuts the list and total still counts them all; minAgeMs 0 shows the new wait too', async () => {
    const one = await getOk<Waits>(daemon.url, '/v1/waits?minAgeMs=1000&limit=1');
    assert.equal(one.total, 3);
    assert.deepEqual(one.waits.map((w) => w.waitId), ['w-old']);
    const all = await getOk<Waits>(daemon.url, '/v1/waits?minAgeMs=0');
    assert.equal(all.total, 4);
    assert.equal(all.waits.at(-1)?.waitId, 'w-new');
  });

  it('a bad parameter is a 400 with a code', async () => {
    const r = await get<{ code: string }>(daemon.url, '/v1/waits?limit=0');
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'BAD_REQUEST');
  });
});
