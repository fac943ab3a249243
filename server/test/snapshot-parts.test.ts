// A resync snapshot larger than one frame comes in parts (`more: true` on all
// but the last). The daemon must replace the client's state once, with all of
// it: never apply half a snapshot, bound what it holds meanwhile, and still
// point each rejected event at the frame and index it came in.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, ev, eventually, startTestDaemon, type TestDaemon } from './helpers.js';
import { getOk } from './rest-helpers.js';

const MAX_SNAPSHOT = 10;

describe('a snapshot in parts', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ maxSnapshotEvents: MAX_SNAPSHOT, maxEventsPerFrame: MAX_SNAPSHOT, disconnectGraceMs: 60_000 });
  });
  after(() => daemon.close());

  interface Exported {
    nodes: { key: string }[];
    edges: { source: string; target: string; attributes: { kind: string; waitId?: string } }[];
  }
  /** One client's part of the live graph (GET /v1/graph): its owners, how many holds, its wait ids. */
  async function clientGraph(session: string): Promise<{ owners: string[]; holds: number; waits: string[] }> {
    const g = await getOk<Exported>(daemon.url, '/v1/graph');
    const prefix = `o:${session}/`;
    const mine = (key: string) => key.startsWith(prefix);
    return {
      owners: g.nodes.filter((n) => mine(n.key)).map((n) => n.key.slice(prefix.length)).sort(),
      holds: g.edges.filter((e) => e.attributes.kind === 'holds' && mine(e.target)).length,
      waits: g.edges.filter((e) => e.attributes.kind === 'waits' && mine(e.source)).map((e) => e.attributes.waitId ?? '').sort(),
    };
  }

  it('replaces the state once, when the last part arrives; a deadlock split across parts is found whole', async () => {
    const { client, welcome } = await connectClient(daemon.wsUrl, { service: 'resync' });
    client.send({ type: 'events', seq: 1, events: [ev.mutex('old'), ev.owner('o-old'), ev.hold('o-old', 'old')] });
    await client.barrier();
    assert.deepEqual(await clientGraph(welcome.session), { owners: ['o-old'], holds: 1, waits: [] });

    // t1 holds a and waits for b, t2 holds b and waits for a: the two waits are in different parts
    client.send({ type: 'snapshot', seq: 2, more: true, events: [ev.mutex('a'), ev.mutex('b'), ev.owner('t1'), ev.owner('t2')] });
    client.send({ type: 'snapshot', seq: 3, more: true, events: [ev.hold('t1', 'a'), ev.hold('t2', 'b'), ev.wait('w1', 't1', 'b'), ev.release('t1', 'nothing')] });
    client.send({ type: 'snapshot', seq: 4, events: [ev.wait('w2', 't2', 'a')] });

    // the bad event of part 2 is reported against part 2 (seq 3, its index 3 there)
    const err = await client.next('error');
    assert.equal(err.code, 'UNKNOWN_RESOURCE', err.message);
    assert.deepEqual(err.ref, { seq: 3, index: 3 });
    const abort = await client.next('abort');
    assert.ok(['w1', 'w2'].includes(abort.waitId), JSON.stringify(abort));
    assert.deepEqual(await clientGraph(welcome.session), { owners: ['t1', 't2'], holds: 2, waits: ['w1', 'w2'] });
    await client.barrier(); // everything the daemon sends for these parts has arrived
    assert.equal(client.queued('abort').length, 0, 'one abort for the one deadlock');
    await client.close();
  });

  it('an `events` frame between the parts is SNAPSHOT_INCOMPLETE: fatal, and the half snapshot is never applied', async () => {
    const { client, welcome } = await connectClient(daemon.wsUrl, { service: 'interleaved' });
    client.send({ type: 'events', seq: 1, events: [ev.mutex('kept'), ev.owner('o1'), ev.hold('o1', 'kept')] });
    await client.barrier();
    client.send({ type: 'snapshot', seq: 2, more: true, events: [ev.mutex('new'), ev.owner('o2'), ev.hold('o2', 'new')] });
    client.send({ type: 'events', seq: 3, events: [ev.owner('o3')] });
    const err = await client.next('error');
    assert.equal(err.code, 'SNAPSHOT_INCOMPLETE');
    assert.equal(err.fatal, true);
    assert.deepEqual(err.ref, { seq: 3 });
    assert.equal((await client.waitClosed()).code, 1008);
    // the connection is gone but its client is kept for the grace period, with its old state
    assert.deepEqual(await clientGraph(welcome.session), { owners: ['o1'], holds: 1, waits: [] });
  });

  it(`parts over --max-snapshot-events (${MAX_SNAPSHOT}) together are SNAPSHOT_TOO_LARGE, and nothing is applied`, async () => {
    const { client, welcome } = await connectClient(daemon.wsUrl, { service: 'too-big' });
    client.send({ type: 'events', seq: 1, events: [ev.owner('before')] });
    await client.barrier();
    const owners = (from: number) => Array.from({ length: 6 }, (_, i) => ev.owner(`s${from + i}`));
    client.send({ type: 'snapshot', seq: 2, more: true, events: owners(0) });
    client.send({ type: 'snapshot', seq: 3, events: owners(6) });
    const err = await client.next('error');
    assert.equal(err.code, 'SNAPSHOT_TOO_LARGE');
    assert.match(err.message, /6 \+ 6 events; the limit is 10/);
    assert.equal((await client.waitClosed()).code, 1008);
    assert.deepEqual(await clientGraph(welcome.session), { owners: ['before'], holds: 0, waits: [] });
  });

  it('a snapshot in one frame (no `more`) still replaces the state at once', async () => {
    const { client, welcome } = await connectClient(daemon.wsUrl, { service: 'single' });
    client.send({ type: 'events', seq: 1, events: [ev.owner('gone')] });
    client.send({ type: 'snapshot', seq: 2, events: [ev.owner('fresh')] });
    await client.barrier();
    await eventually(async () => (await clientGraph(welcome.session)).owners.join() === 'fresh', 'the snapshot applied');
    await client.close();
  });
});
