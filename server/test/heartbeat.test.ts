// A peer that vanished without closing its connection (power loss, partition)
// must not keep its holds in the graph forever. The daemon pings every
// --heartbeat-ms; a socket that has not answered the previous ping is cut off
// and its client goes through the disconnect grace period like any other.
// A peer that stops answering pings is simulated with ws's autoPong: false.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION } from '@deadlockd/proto';
import { connectClient, ev, eventually, startTestDaemon, TestClient, type TestDaemon } from './helpers.js';

const HEARTBEAT_MS = 40;

async function muteClient(url: string, service: string): Promise<{ client: TestClient; session: string }> {
  const client = new TestClient(new WebSocket(url, { autoPong: false }));
  await client.opened;
  client.send({ type: 'hello', protocol: PROTOCOL_VERSION, service, instance: `${service}-1` });
  const welcome = await client.next('welcome');
  return { client, session: welcome.session };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('heartbeat', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ heartbeatMs: HEARTBEAT_MS, disconnectGraceMs: 0 });
  });
  after(() => daemon.close());

  it('a peer that stops answering pings is cut off and its holds dropped; a live one stays', async () => {
    const hub = daemon.app.deadlockd.hub;
    const live = (await connectClient(daemon.wsUrl, { service: 'alive' })).client;
    live.send({ type: 'events', seq: 1, events: [ev.mutex('l'), ev.owner('a'), ev.hold('a', 'l')] });
    await live.barrier();
    const mute = await muteClient(daemon.wsUrl, 'gone-silent');
    mute.client.send({ type: 'events', seq: 1, events: [ev.mutex('m'), ev.owner('b'), ev.hold('b', 'm')] });
    await mute.client.barrier();
    assert.equal(hub.stats().clients, 2);

    await eventually(() => hub.stats().clients === 1, 'the silent client to be cut off and removed');
    assert.equal((await mute.client.waitClosed()).code, 1006, 'terminated, no close handshake');
    const cutOff = daemon.logs.find((l) => /missed its pong/.test(String(l['msg'])));
    assert.equal(cutOff?.['client'], mute.session, JSON.stringify(cutOff));
    assert.equal(hub.stats().namespaces['default']?.graph.holds, 1, "only the live client's hold is left");

    // the live client answered every ping: still open and served many intervals later
    await sleep(HEARTBEAT_MS * 6);
    assert.equal(live.ws.readyState, WebSocket.OPEN);
    live.send({ type: 'events', seq: 2, events: [ev.release('a', 'l')] });
    await live.barrier();
    assert.equal(live.queued('error').length, 0, JSON.stringify(live.frames));
    await live.close();
  });
});

describe('heartbeat while the daemon is busy', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ heartbeatMs: 100, disconnectGraceMs: 0 });
  });
  after(() => daemon.close());

  it('a blocked event loop (a big batch, a sweep) does not make live peers look dead', async () => {
    const hub = daemon.app.deadlockd.hub;
    const clients = await Promise.all([1, 2, 3].map(async (i) => (await connectClient(daemon.wsUrl, { service: `busy-${i}` })).client));
    // The daemon and these clients share this process: blocking it stalls the daemon as a long
    // synchronous job (a big snapshot, a sweep) would. The worst moment is right after a ping
    // round went out, before the pongs were read: block then, from a client's 'ping' event,
    // for longer than one interval, three rounds in a row.
    const busy = (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        /* the daemon's loop is blocked */
      }
    };
    let rounds = 0;
    const onPing = () => {
      busy(170);
      if (++rounds < 3) clients[0]!.ws.once('ping', onPing);
    };
    clients[0]!.ws.once('ping', onPing);
    await eventually(() => rounds === 3, 'three blocked ping rounds');
    await sleep(300);
    assert.equal(hub.stats().clients, 3, JSON.stringify(daemon.logs.filter((l) => /pong/.test(String(l['msg'])))));
    for (const c of clients) assert.equal(c.ws.readyState, WebSocket.OPEN);
    assert.equal(daemon.logs.some((l) => /missed its pong/.test(String(l['msg']))), false);
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe('heartbeat off (--heartbeat-ms 0)', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ heartbeatMs: 0, disconnectGraceMs: 0 });
  });
  after(() => daemon.close());

  it('a peer that answers no pings is never cut off', async () => {
    const mute = await muteClient(daemon.wsUrl, 'silent-but-kept');
    await sleep(HEARTBEAT_MS * 6);
    assert.equal(mute.client.ws.readyState, WebSocket.OPEN);
    assert.equal(daemon.app.deadlockd.hub.stats().clients, 1);
    await mute.client.close();
  });
});
