// The dashboard's live feed (/v1/live) and its files: a real daemon, real
// ws clients creating deadlocks with raw frames, a real viewer socket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { LiveFrame, LiveNode } from '../src/dashboard/index.js';
import { connectClient, ev, startTestDaemon, WAIT_MS, type TestClient, type TestDaemon } from './helpers.js';

/** A dashboard viewer: keeps every snapshot frame, waits for one that matches. */
class Viewer {
  readonly frames: LiveFrame[] = [];
  private waiter: { pred: (f: LiveFrame) => boolean; resolve: (f: LiveFrame) => void } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as LiveFrame;
      this.frames.push(f);
      if (this.waiter?.pred(f)) {
        this.waiter.resolve(f);
        this.waiter = null;
      }
    });
  }

  static async open(url: string): Promise<Viewer> {
    const ws = new WebSocket(url);
    const v = new Viewer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return v;
  }

  /** the latest frame already received that matches, or the next one */
  until(pred: (f: LiveFrame) => boolean, what: string): Promise<LiveFrame> {
    const have = [...this.frames].reverse().find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no live frame with ${what}; last: ${JSON.stringify(this.frames.at(-1))?.slice(0, 2000)}`));
      }, WAIT_MS);
      this.waiter = { pred, resolve: (f) => { clearTimeout(timer); resolve(f); } };
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

const node = (f: LiveFrame, key: string): LiveNode | undefined => f.graph.nodes.find((n) => n.key === key);
const marked = (f: LiveFrame) => f.graph.nodes.filter((n) => n.attributes.deadlocks.length > 0);

/** t1 and t2 each hold one mutex and wait for the other's */
function crossed(prefix: string, abortable: boolean) {
  const o1 = `${prefix}1`;
  const o2 = `${prefix}2`;
  return [
    { type: 'resource', resource: `${prefix}:acct:a`, kind: 'mutex', label: 'acct:a' },
    { type: 'resource', resource: `${prefix}:acct:b`, kind: 'mutex', label: 'acct:b' },
    ev.owner(o1, { name: 'transfer a->b', abortable }),
    ev.owner(o2, { name: 'transfer b->a', abortable, priority: 5 }),
    ev.hold(o1, `${prefix}:acct:a`),
    ev.hold(o2, `${prefix}:acct:b`),
    ev.wait(`${prefix}-w1`, o1, `${prefix}:acct:b`),
    ev.wait(`${prefix}-w2`, o2, `${prefix}:acct:a`),
  ];
}

describe('dashboard live feed /v1/live', () => {
  let daemon: TestDaemon;
  let liveUrl: string;
  const clients: TestClient[] = [];
  const viewers: Viewer[] = [];
  before(async () => {
    daemon = await startTestDaemon({ disconnectGraceMs: 0 });
    liveUrl = `${daemon.url.replace(/^http/, 'ws')}/v1/live`;
  });
  after(async () => {
    await Promise.all(viewers.map((v) => v.close()));
    await Promise.all(clients.map((c) => c.close()));
    await daemon.close();
  });

  const viewer = async (query = '') => {
    const v = await Viewer.open(liveUrl + query);
    viewers.push(v);
    return v;
  };
  const sdk = async (service: string) => {
    const c = await connectClient(daemon.wsUrl, { service });
    clients.push(c.client);
    return c;
  };

  it('sends a snapshot on connect, then the graph with the deadlock members marked, the cycle and its history entry', async () => {
    const v = await viewer();
    const first = await v.until(() => true, 'any snapshot');
    assert.equal(first.type, 'snapshot');
    assert.equal(first.namespace, 'default');
    assert.equal(first.view, 'all');

    const { client, welcome } = await sdk('payments');
    client.send({ type: 'events', seq: 1, events: crossed('u', false) });
    const f = await v.until((x) => marked(x).length > 0 && x.history.length > 0, 'deadlock members marked');

    const t1 = node(f, `o:${welcome.session}/u1`);
    const t2 = node(f, `o:${welcome.session}/u2`);
    assert.ok(t1 && t2, 'both owners are nodes');
    assert.equal(t1.attributes.kind, 'owner');
    assert.equal(t1.attributes.label, 'transfer a->b');
    const [id] = t1.attributes.deadlocks;
    assert.ok(id);
    assert.deepEqual(t2.attributes.deadlocks, [id]);
    assert.deepEqual(
      marked(f).map((n) => n.key).sort(),
      [`o:${welcome.session}/u1`, `o:${welcome.session}/u2`, `r:${welcome.session}:u:acct:a`, `r:${welcome.session}:u:acct:b`].sort(),
      'the two owners and the two resources of the cycle, nothing else',
    );
    for (const n of f.graph.nodes) {
      assert.ok(Number.isFinite(n.attributes.x) && Number.isFinite(n.attributes.y), `${n.key} has a position`);
    }
    assert.notDeepEqual([t1.attributes.x, t1.attributes.y], [t2.attributes.x, t2.attributes.y], 'owners do not sit on each other');
    assert.equal(f.graph.edges.filter((e) => e.attributes.kind === 'waits').length, 2);
    assert.equal(f.graph.edges.filter((e) => e.attributes.kind === 'holds').length, 2);
    assert.equal(new Set(f.graph.edges.map((e) => e.key)).size, f.graph.edges.length, 'edge keys are unique');

    assert.equal(f.cycles.length, 1);
    assert.equal(f.cycles[0]!.id, id);
    assert.equal(f.cycles[0]!.status, 'unresolvable', 'no member is abortable');
    assert.equal(f.history[0]!.id, id);
    assert.match(f.history[0]!.report.text, /task 'transfer a->b' \(payments\) waits for acct:b/);
    assert.equal(f.stats.activeDeadlocks, 1);
  });

  it('an unrelated change leaves every existing node exactly where it was', async () => {
    const v = await viewer();
    const before = await v.until((x) => marked(x).length > 0, 'the deadlock from before');
    const { client } = await sdk('inventory');
    client.send({ type: 'events', seq: 1, events: [ev.mutex('shelf'), ev.owner('picker', { name: 'picker' }), ev.hold('picker', 'shelf')] });
    const afterFrame = await v.until((x) => x.graph.nodes.some((n) => n.attributes.label === 'picker'), 'the new owner');
    assert.ok(afterFrame.seq > before.seq);
    for (const n of before.graph.nodes) {
      const now = node(afterFrame, n.key);
      assert.ok(now, `${n.key} still there`);
      assert.deepEqual([now.attributes.x, now.attributes.y], [n.attributes.x, n.attributes.y], `${n.key} did not move`);
    }
  });

  it('?view=blocked shows only owners that wait, what they wait for and its holders', async () => {
    const v = await viewer('?view=blocked');
    const f = await v.until((x) => marked(x).length > 0, 'the deadlock');
    assert.equal(f.view, 'blocked');
    assert.ok(!f.graph.nodes.some((n) => n.attributes.label === 'picker'), 'the idle holder is left out');
    assert.equal(marked(f).length, 4);
  });

  it('a resolved deadlock: the cycle leaves, the history entry turns resolved', async () => {
    const v = await viewer();
    const { client, welcome } = await sdk('billing');
    client.send({ type: 'events', seq: 1, events: crossed('r', true) });
    const abort = await client.next('abort');
    assert.equal(abort.owner, 'r1', 'lowest priority is the victim');
    const during = await v.until((x) => x.cycles.some((c) => c.id === abort.deadlock), 'the cycle being aborted');
    assert.equal(during.cycles.find((c) => c.id === abort.deadlock)!.status, 'aborting');

    // as the SDK does: the wait's cancel first, then the answer
    client.send({ type: 'events', seq: 2, events: [{ type: 'cancel', waitId: abort.waitId, reason: 'deadlock' }] });
    client.send({ type: 'abort_result', deadlock: abort.deadlock, waitId: abort.waitId, result: 'aborted' });
    const f = await v.until((x) => x.history.some((e) => e.id === abort.deadlock && e.status === 'resolved'), 'the entry resolved');
    assert.ok(!f.cycles.some((c) => c.id === abort.deadlock), 'no longer a current cycle');
    const entry = f.history.find((e) => e.id === abort.deadlock)!;
    assert.equal(entry.report.victim?.owner, `${welcome.session}/r1`);
    assert.ok(entry.resolvedAt !== undefined && entry.resolvedAt >= entry.detectedAt);
    assert.deepEqual(node(f, `o:${welcome.session}/r1`)?.attributes.deadlocks, [], 'members are no longer marked');
    assert.equal(f.history[0]!.id, abort.deadlock, 'newest first');
    assert.equal(f.historyTotal, 2);
  });
});

describe('dashboard files', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
  });
  after(() => daemon.close());

  it('serves the page, its modules and the sigma/graphology bundles', async () => {
    const page = await fetch(`${daemon.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(html, /<div id="graph" class="graph">/);
    assert.match(html, /src="\/dashboard\/app\.js"/);
    assert.ok(!html.includes('{{TOKEN_QS}}') && !html.includes('importmap'), 'no token: plain URLs');

    for (const path of ['/dashboard/app.js', '/dashboard/graph-view.js', '/dashboard/style.css']) {
      const r = await fetch(daemon.url + path);
      assert.equal(r.status, 200, path);
      await r.arrayBuffer();
    }
    const sigma = await fetch(`${daemon.url}/vendor/sigma.min.js`);
    assert.equal(sigma.status, 200);
    assert.match(sigma.headers.get('content-type') ?? '', /javascript/);
    assert.match(await sigma.text(), /Sigma/);
    const graphology = await fetch(`${daemon.url}/vendor/graphology.umd.min.js`);
    assert.equal(graphology.status, 200);
    assert.match(await graphology.text(), /graphology/);
    const missing = await fetch(`${daemon.url}/vendor/other.js`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    // names of Object.prototype are not files: once 500 with Node's error text
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const r = await fetch(`${daemon.url}/vendor/${name}`);
      assert.equal(r.status, 404, name);
      assert.doesNotMatch(await r.text(), /TypeError|ERR_|argument/i, name);
    }
  });

  it('opened with ?token=, the page passes the token on to every asset and module import', async () => {
    const html = await (await fetch(`${daemon.url}/?token=${encodeURIComponent('s3cret&x')}`)).text();
    const qs = `?token=${encodeURIComponent('s3cret&x')}`;
    assert.ok(html.includes(`src="/dashboard/app.js${qs}"`));
    assert.ok(html.includes(`href="/dashboard/style.css${qs}"`));
    assert.ok(html.includes(`src="/vendor/sigma.min.js${qs}"`));
    const map = /<script type="importmap">(.*?)<\/script>/.exec(html);
    assert.ok(map, 'an import map');
    const imports = (JSON.parse(map[1]!) as { imports: Record<string, string> }).imports;
    assert.equal(imports['/dashboard/graph-view.js'], `/dashboard/graph-view.js${qs}`);
  });
});
