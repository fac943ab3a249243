// Auth over HTTP: every route but /healthz and /readyz needs a token (header
// or ?token=); the docs UI gets a cookie; REST shows only the caller's namespace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startTestDaemon, type TestDaemon } from './helpers.js';
import { get } from './rest-helpers.js';

const T1 = 'secret-ns1-token';
const T2 = 'secret-ns2-token';

const PROTECTED = [
  '/v1/cycles',
  '/v1/deadlocks',
  '/v1/deadlocks/some-id',
  '/v1/deadlocks/some-id/text',
  '/v1/deadlocks/some-id/svg',
  '/v1/graph',
  '/v1/graph.dot?blocked=true',
  '/v1/owners/c/o',
  '/v1/resources/g%3Ax',
  '/v1/clients',
  '/v1/stats',
  '/v1/schema/wire.json',
  '/v1/no-such-route',
  '/metrics',
  '/docs/json',
  '/docs/',
  '/',
];

describe('auth over HTTP', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ tokens: { [T1]: 'ns1', [T2]: 'ns2' } });
  });
  after(() => daemon.close());

  it('/healthz and /readyz need no token', async () => {
    assert.equal((await get(daemon.url, '/healthz')).status, 200);
    assert.equal((await get(daemon.url, '/readyz')).status, 200);
  });

  const refusals: [string, (path: string) => Promise<Awaited<ReturnType<typeof get>>>][] = [
    ['no token', (p) => get(daemon.url, p)],
    ['a wrong bearer token', (p) => get(daemon.url, p, 'secret-ns1-tokeN')],
    ['a wrong ?token=', (p) => get(daemon.url, `${p}${p.includes('?') ? '&' : '?'}token=nope`)],
    ['an empty ?token=', (p) => get(daemon.url, `${p}${p.includes('?') ? '&' : '?'}token=`)],
    ['a token in another scheme', (p) => get(daemon.url, p, undefined, { headers: { authorization: `Basic ${T1}` } })],
  ];
  for (const [name, call] of refusals) {
    it(`${name}: 401 UNAUTHORIZED on every other route`, async () => {
      for (const path of PROTECTED) {
        const r = await call(path);
        assert.equal(r.status, 401, `${path} with ${name}`);
        assert.deepEqual(r.body, { code: 'UNAUTHORIZED', message: (r.body as { message: string }).message }, path);
        assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
    });
  }

  it('a valid token works as a Bearer header or as ?token=, and picks the namespace', async () => {
    const h = await get<{ namespace: string }>(daemon.url, '/v1/stats', T1);
    assert.equal(h.status, 200);
    assert.equal(h.body.namespace, 'ns1');
    const q = await get<{ namespace: string }>(daemon.url, `/v1/stats?token=${T2}`);
    assert.equal(q.status, 200);
    assert.equal(q.body.namespace, 'ns2');
    const m = await get(daemon.url, '/metrics', T1);
    assert.equal(m.status, 200);
    assert.match(m.text, /deadlockd_/);
    const l = await get(daemon.url, `/v1/deadlocks?limit=5&token=${T1}`);
    assert.equal(l.status, 200, 'token beside other query parameters');
  });

  it('the dashboard WebSocket is refused without a token; the SDK stream authenticates at hello', async () => {
    const wsBase = daemon.url.replace(/^http/, 'ws');
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`${wsBase}/v1/live`);
      ws.on('unexpected-response', (_req, res) => {
        resolve(String(res.statusCode));
        ws.terminate();
      });
      ws.on('open', () => {
        resolve('open');
        ws.close();
      });
      ws.on('error', () => {});
    });
    assert.equal(refused, '401');
    const stream = new WebSocket(`${wsBase}/v1/stream`);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    stream.close();
  });

  it('the docs UI: a valid ?token= sets an HttpOnly cookie for /docs and redirects without it', async () => {
    const r = await get(daemon.url, `/docs/?token=${T1}`);
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/docs/');
    const cookie = r.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\/docs/);
    const pair = cookie.split(';')[0]!;
    const page = await get(daemon.url, '/docs/', undefined, { headers: { cookie: pair } });
    assert.equal(page.status, 200);
    const json = await get<{ paths: Record<string, unknown> }>(daemon.url, '/docs/json', undefined, { headers: { cookie: pair } });
    assert.equal(json.status, 200);
    assert.ok(json.body.paths['/v1/cycles']);
    // the cookie is for the docs only, and a forged one is refused
    assert.equal((await get(daemon.url, '/v1/cycles', undefined, { headers: { cookie: pair } })).status, 401);
    assert.equal((await get(daemon.url, '/docs/json', undefined, { headers: { cookie: 'deadlockd_docs_token=forged' } })).status, 401);
    // a wrong ?token= on /docs is refused, not redirected
    assert.equal((await get(daemon.url, '/docs/?token=wrong')).status, 401);
  });
});

describe('auth off', () => {
  it('on loopback: no warning; every route open in the default namespace', async () => {
    const daemon = await startTestDaemon();
    try {
      assert.equal(daemon.loopbackOnly, true);
      const s = await get<{ namespace: string }>(daemon.url, '/v1/stats');
      assert.equal(s.status, 200);
      assert.equal(s.body.namespace, 'default');
      assert.equal(daemon.logs.some((l) => /AUTH IS OFF/.test(String(l['msg']))), false);
    } finally {
      await daemon.close();
    }
  });

  it('beyond loopback: a loud warning at start', async () => {
    const daemon = await startTestDaemon({ host: '0.0.0.0' });
    try {
      assert.equal(daemon.loopbackOnly, false);
      const warning = daemon.logs.find((l) => /AUTH IS OFF/.test(String(l['msg'])));
      assert.ok(warning, 'warned');
      assert.equal(warning['level'], 40);
    } finally {
      await daemon.close();
    }
  });

  it('beyond loopback with tokens: no warning', async () => {
    const daemon = await startTestDaemon({ host: '0.0.0.0', tokens: { [T1]: 'ns1' } });
    try {
      assert.equal(daemon.logs.some((l) => /AUTH IS OFF/.test(String(l['msg']))), false);
      assert.ok(daemon.logs.some((l) => /auth on/.test(String(l['msg']))));
    } finally {
      await daemon.close();
    }
  });
});

it('a ?token= in a request URL never reaches the log', async () => {
  const d = await startTestDaemon({ tokens: { 's3cr3t-token-value': 'ns1' } });
  try {
    await fetch(`${d.url}/v1/stats?token=s3cr3t-token-value`);
    await fetch(`${d.url}/v1/stats?token=wrong-token-value`);
    const text = JSON.stringify(d.logs);
    assert.ok(d.logs.length > 0);
    assert.doesNotMatch(text, /s3cr3t-token-value|wrong-token-value/);
  } finally {
    await d.close();
  }
});
