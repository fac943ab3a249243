// A big GET /v1/graph never holds the event loop for the whole body: the body
// is produced in slices with a turn of the loop between them (sliced-body.ts),
// streamed, and shows the graph as it was when the request came, whatever
// happens while it is being sent. Nothing here is timed by the clock: the
// tests count turns of the event loop and look at what was served in between.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { captureLive } from '../src/dashboard/snapshot.js';
import { slicedBody } from '../src/sliced-body.js';
import { connectClient, ev, startTestDaemon, type TestClient, type TestDaemon } from './helpers.js';

/** Counts turns of the event loop (one setImmediate after another) until stopped. */
function turnCounter(): { readonly turns: number; stop(): void } {
  let turns = 0;
  let ticking = true;
  const tick = () => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop: () => {
      ticking = false;
    },
  };
}

describe('slicedBody', () => {
  it('renders a big section across several turns of the event loop, others running in between', async () => {
    const loop = turnCounter();
    const seenAt: number[] = [];
    const chunks: string[] = [];
    const items = { count: 10_000, renderAt: (i: number) => `${i}`, sep: ',' };
    for await (const chunk of slicedBody(['[', items, ']'], { budgetMs: 1_000_000, maxItems: 1_000 })) {
      seenAt.push(loop.turns);
      chunks.push(chunk);
    }
    loop.stop();
    assert.equal(chunks.join(''), JSON.stringify(Array.from({ length: 10_000 }, (_, i) => i)), 'the same text as in one piece');
    assert.equal(chunks.length, 11, '10 slices of maxItems items, then the closing string');
    for (let i = 1; i < seenAt.length; i++) assert.ok((seenAt[i] as number) > (seenAt[i - 1] as number), `another callback ran between slices ${i - 1} and ${i}`);
  });

  it('plain strings and empty sections pass through unchanged', async () => {
    const out: string[] = [];
    for await (const c of slicedBody(['a', { count: 0, renderAt: () => 'x', sep: ',' }, 'b'])) out.push(c);
    assert.equal(out.join(''), 'ab');
  });
});

interface Exported {
  attributes: { truncated: boolean };
  nodes: { key: string; attributes: { label: string } }[];
  edges: { source: string; target: string }[];
}

/** GET on a raw socket: the response, not yet read. */
function open(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => request(url, resolve).on('error', reject).end());
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (d: Buffer) => parts.push(d));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
    res.resume();
  });
}

const OWNERS = 15_000;

/** A daemon whose client `big` holds OWNERS mutexes, each with its own owner named `before <i>`. */
async function bigGraph(overrides: Parameters<typeof startTestDaemon>[0] = {}): Promise<{ daemon: TestDaemon; big: TestClient }> {
  const daemon = await startTestDaemon({ maxGraphNodes: 2 * OWNERS + 10, disconnectGraceMs: 0, ...overrides });
  const big = (await connectClient(daemon.wsUrl, { service: 'big' })).client;
  const events: object[] = [];
  for (let i = 0; i < OWNERS; i++) events.push(ev.mutex(`m${i}`), ev.owner(`o${i}`, { name: `before ${i}` }), ev.hold(`o${i}`, `m${i}`));
  for (let i = 0; i < events.length; i += 3_000) big.send({ type: 'events', seq: 1 + i / 3_000, events: events.slice(i, i + 3_000) });
  await big.barrier();
  return { daemon, big };
}

describe('GET /v1/graph on a big graph', () => {
  let daemon: TestDaemon;
  let big: TestClient;
  before(async () => {
    ({ daemon, big } = await bigGraph());
  });
  after(async () => {
    await big.close();
    await daemon.close();
  });

  it('is streamed; while its reader pauses, another client deadlocks and is aborted; the body is the graph at the request', async () => {
    const res = await open(`${daemon.url}/v1/graph`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['content-length'], undefined, 'a stream, not a body built in one piece');
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    // the reader takes nothing yet: the daemon must keep serving everyone else
    res.pause();
    const { client: other } = await connectClient(daemon.wsUrl, { service: 'other' });
    other.send({
      type: 'events',
      seq: 1,
      events: [ev.mutex('x'), ev.mutex('y'), ev.owner('late-a'), ev.owner('late-b'), ev.hold('late-a', 'x'), ev.hold('late-b', 'y'), ev.wait('wa', 'late-a', 'y'), ev.wait('wb', 'late-b', 'x')],
    });
    const abort = await other.next('abort');
    assert.ok(['wa', 'wb'].includes(abort.waitId));
    // and the big client renames every owner it has after the request
    big.send({ type: 'events', seq: 100, events: Array.from({ length: 50 }, (_, i) => ev.owner(`o${i}`, { name: `after ${i}` })) });
    await big.barrier();
    const g = JSON.parse(await readAll(res)) as Exported;
    assert.equal(g.attributes.truncated, false);
    assert.equal(g.nodes.length, 2 * OWNERS, 'every owner and mutex of the request instant');
    assert.equal(g.edges.length, OWNERS);
    assert.ok(!g.nodes.some((n) => n.key.includes('late-')), 'nothing added after the request');
    assert.ok(!g.nodes.some((n) => n.attributes.label.startsWith('after ')), 'no change made after the request');
    const keys = new Set(g.nodes.map((n) => n.key));
    assert.ok(g.edges.every((e) => keys.has(e.source) && keys.has(e.target)), 'every edge joins two nodes of the body');
    await other.close();
  });

  it('two big responses interleave with each other and with a small request', async () => {
    const [a, b] = await Promise.all([open(`${daemon.url}/v1/graph`), open(`${daemon.url}/v1/graph.dot`)]);
    const health = await fetch(`${daemon.url}/healthz`);
    assert.equal(health.status, 200);
    const [ja, db] = await Promise.all([readAll(a), readAll(b)]);
    assert.equal((JSON.parse(ja) as Exported).nodes.length, 2 * OWNERS);
    assert.match(db, /^digraph deadlockd \{/);
    assert.ok(db.endsWith('}\n'));
    assert.equal(db.split('\n').filter((l) => l.includes(' -> ')).length, OWNERS);
  });
});

describe('captures in slices: GET /v1/graph and a dashboard frame', () => {
  let daemon: TestDaemon;
  let big: TestClient;
  before(async () => {
    // 1 ms slices: the capture of 30,000 nodes takes several, with turns of the event loop between them
    ({ daemon, big } = await bigGraph({ searchSliceMs: 1 }));
  });
  after(async () => {
    await big.close();
    await daemon.close();
  });

  /** A frame renaming the first and the last owner, racing a capture just begun; returns the new name. */
  const renameFirstAndLast = (seq: number): string => {
    const name = `renamed ${seq}`;
    big.send({ type: 'events', seq, events: [ev.owner('o0', { name }), ev.owner(`o${OWNERS - 1}`, { name })] });
    return name;
  };
  /** The rename was applied before the capture or held until it had ended, never in between. */
  const bothOrNeither = (first: string | undefined, last: string | undefined, name: string): void => {
    assert.ok(first !== undefined && last !== undefined, 'both owners are in the capture');
    assert.equal(first === name, last === name, `both renamed or neither (${first} / ${last})`);
  };

  it('GET /v1/graph sees one graph: a frame renaming the first and the last owner shows in the body for both or for neither', async () => {
    const ns = daemon.app.deadlockd.hub.namespace('default');
    for (let round = 0; round < 5; round++) {
      const pending = open(`${daemon.url}/v1/graph`);
      const name = renameFirstAndLast(1_000 + round);
      const g = JSON.parse(await readAll(await pending)) as Exported;
      const label = (key: string) => g.nodes.find((n) => n.key.endsWith(key))?.attributes.label;
      bothOrNeither(label('/o0'), label(`/o${OWNERS - 1}`), name);
      await big.barrier();
      assert.equal(ns.busy, false);
    }
  });

  it("a dashboard frame's capture takes turns of the event loop and sees one graph the same way", async () => {
    const ns = daemon.app.deadlockd.hub.namespace('default');
    for (let round = 0; round < 5; round++) {
      const loop = turnCounter();
      let g: Awaited<ReturnType<typeof captureLive>>['graph'];
      let name: string;
      try {
        // every node drawn (the cap above the graph's 30,000): a capture of several 1 ms slices
        const pending = captureLive(ns, 'all', 2 * OWNERS + 10);
        assert.equal(ns.busy, true, 'the capture did not end in its first slice: the namespace holds its changes meanwhile');
        name = renameFirstAndLast(2_000 + round);
        g = (await pending).graph;
      } finally {
        loop.stop();
      }
      assert.ok(loop.turns > 1, `other callbacks ran while the capture went on (${loop.turns} turns)`);
      assert.equal(g.nodeCount, 2 * OWNERS);
      const label = (owner: string): string | undefined => {
        for (let i = 0; i < g.nodeCount; i++) if (g.nodeKey(i).endsWith(`/${owner}`)) return (JSON.parse(g.nodeJson(i)) as { attributes: { label: string } }).attributes.label;
        return undefined;
      };
      bothOrNeither(label('o0'), label(`o${OWNERS - 1}`), name);
      await big.barrier();
      assert.equal(ns.busy, false);
    }
  });
});
