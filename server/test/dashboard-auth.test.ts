// The dashboard with auth on: the page, its files and /v1/live need a token;
// a viewer sees only its token's namespace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { LiveFrame } from '../src/dashboard/index.js';
import { connectClient, ev, startTestDaemon, WAIT_MS, type TestClient, type TestDaemon } from './helpers.js';

/** Opens /v1/live; resolves with the socket and a way to wait for frames, or rejects with the HTTP status of a refused upgrade. */
function openLive(url: string): Promise<{ ws: WebSocket; frames: LiveFrame[]; until: (pred: (f: LiveFrame) => boolean, what: string) => Promise<LiveFrame> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: LiveFrame[] = [];
    const listeners = new Set<() => void>();
    ws.on('message', (d) => {
      frames.push(JSON.parse(d.toString()) as LiveFrame);
      for (const l of listeners) l();
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        frames,
        until: (pred, what) =>
          new Promise((res, rej) => {
            const check = () => {
              const f = frames.find(pred);
              if (!f) return;
              listeners.delete(check);
              clearTimeout(timer);
              res(f);
            };
            const timer = setTimeout(() => {
              listeners.delete(check);
              rej(new Error(`no live frame with ${what}`));
            }, WAIT_MS);
            listeners.add(check);
            check();
          }),
      }),
    );
  });
}

async function streamClient(url: string, token: string, service: string): Promise<TestClient> {
  return (await connectClient(url, { service, instance: `${service}-1`, token })).client;
}

describe('dashboard with auth on', () => {
  let daemon: TestDaemon;
  let liveUrl: string;
  const closers: Array<() => Promise<unknown> | void> = [];
  before(async () => {
    daemon = await startTestDaemon({ tokens: { 'tok-alpha': 'alpha', 'tok-beta': 'beta' }, disconnectGraceMs: 0 });
    liveUrl = `${daemon.url.replace(/^http/, 'ws')}/v1/live`;
  });
  after(async () => {
    for (const c of closers) await c();
    await daemon.close();
  });

  it('refuses the page, its files and the live feed without a valid token', async () => {
    for (const path of ['/', '/dashboard/app.js', '/vendor/sigma.min.js', '/?token=wrong']) {
      const r = await fetch(daemon.url + path);
      assert.equal(r.status, 401, path);
      await r.arrayBuffer();
    }
    await assert.rejects(openLive(liveUrl), /HTTP 401/);
    await assert.rejects(openLive(`${liveUrl}?token=wrong`), /HTTP 401/);
  });

  it('with ?token= the page and every URL it writes carry the token, and they are served', async () => {
    const page = await fetch(`${daemon.url}/?token=tok-alpha`);
    assert.equal(page.status, 200);
    const html = await page.text();
    const urls = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(urls.length >= 4, 'stylesheet, two bundles, the app module');
    for (const u of urls) {
      assert.ok(u.endsWith('?token=tok-alpha'), u);
      const r = await fetch(daemon.url + u);
      assert.equal(r.status, 200, u);
      await r.arrayBuffer();
    }
    const map = JSON.parse(/<script type="importmap">(.*?)<\/script>/.exec(html)![1]!) as { imports: Record<string, string> };
    for (const target of Object.values(map.imports)) {
      const r = await fetch(daemon.url + target);
      assert.equal(r.status, 200, target);
      await r.arrayBuffer();
    }
  });

  it("a viewer sees its token's namespace and nothing of another's", async () => {
    const alpha = await openLive(`${liveUrl}?token=tok-alpha`);
    const beta = await openLive(`${liveUrl}?token=tok-beta`);
    closers.push(() => alpha.ws.close(), () => beta.ws.close());
    assert.equal((await alpha.until(() => true, 'a first frame')).namespace, 'alpha');
    assert.equal((await beta.until(() => true, 'a first frame')).namespace, 'beta');

    const b = await streamClient(daemon.wsUrl, 'tok-beta', 'beta-svc');
    const a = await streamClient(daemon.wsUrl, 'tok-alpha', 'alpha-svc');
    closers.push(() => a.close(), () => b.close());
    b.send({
      type: 'events',
      seq: 1,
      events: [ev.mutex('m1'), ev.mutex('m2'), ev.owner('x', { name: 'beta x', abortable: false }), ev.owner('y', { name: 'beta y', abortable: false }), ev.hold('x', 'm1'), ev.hold('y', 'm2'), ev.wait('w1', 'x', 'm2'), ev.wait('w2', 'y', 'm1')],
    });
    await beta.until((f) => f.cycles.length === 1 && f.history.length === 1, "beta's deadlock");
    // something in alpha after beta's deadlock, so alpha's feed has caught up past it
    a.send({ type: 'events', seq: 1, events: [ev.mutex('m'), ev.owner('z', { name: 'alpha z' }), ev.hold('z', 'm')] });
    await alpha.until((f) => f.graph.nodes.some((n) => n.attributes.label === 'alpha z'), "alpha's owner");
    for (const f of alpha.frames) {
      assert.equal(f.namespace, 'alpha');
      assert.ok(!f.graph.nodes.some((n) => String(n.attributes.label).startsWith('beta')), 'no beta node in alpha');
      assert.equal(f.cycles.length, 0);
      assert.equal(f.history.length, 0);
    }
  });
});
