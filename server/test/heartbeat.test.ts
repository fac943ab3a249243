// A peer that vanished without closing its connection (power loss, partition)
// must not keep its holds in the graph forever. The daemon pings every
// --heartbeat-ms; a socket that has not answered the previous ping is cut off
// and its client goes through the disconnect grace period like any other.
// A peer that stops answering pings is simulated with ws's autoPong: false.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION } from '@deadlockd/proto';
import { connectClient, ev, eventually, startTestDaemon, TestClient, WAIT_MS, type TestDaemon } from './helpers.js';

// A live peer must answer a ping within one interval; 500 ms leaves a loaded machine ten times
// the room a pong needs on an idle one. Nothing below waits for a fixed time: every wait is for
// an event (a ping received, a socket cut off).
const HEARTBEAT_MS = 500;

/**
 * A client that answers pings by hand (autoPong off) until `mute()`: it stays alive while the
 * test sets up its state, however slowly, and only then goes silent.
 */
async function muteClient(url: string, service: string): Promise<{ client: TestClient; session: string; mute(): void }> {
  const client = new TestClient(new WebSocket(url, { autoPong: false }));
  let muted = false;
  client.ws.on('ping', (data) => {
    if (!muted) client.ws.pong(data);
  });
  await client.opened;
  client.send({ type: 'hello', protocol: PROTOCOL_VERSION, service, instance: `${service}-1` });
  const welcome = await client.next('welcome');
  return { client, session: welcome.session, mute: () => (muted = true) };
}

/**
 * Resolves after `ws` received `n` more pings: each one means the daemon judged it alive at that
 * beat. Rejects if it is closed first (cut off) or after the WAIT_MS failsafe.
 */
function pings(ws: WebSocket, n: number): Promise<void> {
  let got = 0;
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      ws.off('ping', onPing).off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onPing = () => {
      if (++got >= n) done();
    };
    const onClose = () => done(new Error(`closed after ${got} of ${n} pings`));
    const timer = setTimeout(() => done(new Error(`only ${got} of ${n} pings within ${WAIT_MS} ms`)), WAIT_MS);
    ws.on('ping', onPing).on('close', onClose);
  });
}

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
    mute.mute();

    await eventually(() => hub.stats().clients === 1, 'the silent client to be cut off and removed');
    assert.equal((await mute.client.waitClosed()).code, 1006, 'terminated, no close handshake');
    const cutOff = daemon.logs.find((l) => /missed its pong/.test(String(l['msg'])));
    assert.equal(cutOff?.['client'], mute.session, JSON.stringify(cutOff));
    assert.equal(hub.stats().namespaces['default']?.graph.holds, 1, "only the live client's hold is left");

    // the live client answered every ping: still open and served three more judged beats later
    // (the daemon pings a socket only after finding it alive)
    await pings(live.ws, 3);
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
    daemon = await startTestDaemon({ heartbeatMs: HEARTBEAT_MS, disconnectGraceMs: 0 });
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
      busy(HEARTBEAT_MS * 1.7);
      if (++rounds < 3) clients[0]!.ws.once('ping', onPing);
    };
    clients[0]!.ws.once('ping', onPing);
    await eventually(() => rounds === 3, 'three blocked ping rounds');
    // two beats judged after the last blocked one (a ping goes only to a socket found alive)
    await Promise.all(clients.map((c) => pings(c.ws, 2)));
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
    mute.mute();
    let pinged = 0;
    mute.client.ws.on('ping', () => pinged++);
    // an observation window, not a synchronisation: nothing is due in it. Four intervals of the
    // heartbeat the other daemons here use: an enabled one would have pinged, and cut this peer off.
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 4));
    assert.equal(pinged, 0, 'no ping was ever sent');
    assert.equal(mute.client.ws.readyState, WebSocket.OPEN);
    assert.equal(daemon.app.deadlockd.hub.stats().clients, 1);
    await mute.client.close();
  });
});
