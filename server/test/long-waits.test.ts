// Issue 12 item 4: long waits, the log_lock_waits of services. A real daemon: a log line once per
// wait past --log-waits-after-ms, shaped like a deadlock report; GET /v1/waits?olderThanMs= with
// the direct blockers and the blocking chain; the deadlockd_oldest_wait_seconds gauge.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, ev, eventually, startTestDaemon, type TestClient, type TestDaemon } from './helpers.js';
import { getOk } from './rest-helpers.js';

interface Step {
  owner: string;
  name: string;
  how: string;
  instance?: string;
  waitsFor?: { waitId: string; label: string };
}
interface LongWait {
  waitId: string;
  owner: string;
  name: string;
  instance?: string;
  host?: string;
  pid?: number;
  attributes?: Record<string, unknown>;
  blockers: Step[];
  blockersTotal: number;
  chain: Step[];
  chainEnd: string;
}
interface Waits {
  total: number;
  waits: LongWait[];
}

/** What a log line of this daemon says about long waits. */
const longWaitLines = (d: TestDaemon) => d.logs.filter((l) => l['msg'] === 'long wait') as Array<{ waitId: string; text: string; chainEnd: string; blockers: string[] }>;

// far above anything a loaded machine adds between a report and its check; the waits of the
// chain are reported as already older than it, so nothing here waits for the clock
const AFTER_MS = 1_000;
const OLD = 120_000;

describe('long waits: log line, REST chain, gauge', () => {
  let daemon: TestDaemon;
  let client: TestClient;
  let now: number;

  before(async () => {
    daemon = await startTestDaemon({ logWaitsAfterMs: AFTER_MS, maxWaitChain: 8 });
    client = (await connectClient(daemon.wsUrl, { service: 'orders', instance: 'orders-blue' })).client;
    now = Date.now();
    // a chain: 'report' holds ledger and runs; 'settle' holds account:7 and waits for ledger;
    // 'checkout' waits for account:7 (the oldest: two minutes); 'refund' queues behind it
    client.send({
      type: 'events',
      seq: 1,
      events: [
        ev.mutex('ledger'),
        { type: 'resource', resource: 'account:7', kind: 'mutex', scope: 'local', fifo: true },
        ev.owner('report', { name: 'nightly report' }),
        ev.owner('settle', { name: 'settle' }),
        ev.owner('checkout', { name: 'checkout', attributes: { orderId: 'o-7' } }),
        ev.owner('refund', { name: 'refund' }),
        ev.hold('report', 'ledger'),
        ev.hold('settle', 'account:7'),
        { ...ev.wait('w-settle', 'settle', 'ledger'), since: now - OLD + 10 },
        { ...ev.wait('w-checkout', 'checkout', 'account:7'), since: now - OLD, stack: 'at checkout (/app/orders.js:12:3)\nat processTicksAndRejections (node:internal/process/task_queues:95:5)' },
        { ...ev.wait('w-refund', 'refund', 'account:7'), since: now - OLD + 20 },
      ],
    });
    await client.barrier();
    assert.deepEqual(client.queued('error'), []);
  });
  after(async () => {
    await client.close();
    await daemon.close();
  });

  it('GET /v1/waits?olderThanMs= lists the oldest first with their blockers and the chain to its head', async () => {
    const r = await getOk<Waits>(daemon.url, '/v1/waits?olderThanMs=60000');
    assert.equal(r.total, 3);
    const [checkout] = r.waits;
    assert.equal(checkout?.waitId, 'w-checkout');
    assert.equal(checkout.instance, 'orders-blue');
    assert.deepEqual(checkout.attributes, { orderId: 'o-7' });
    assert.deepEqual(checkout.blockers.map((b) => [b.name, b.how]), [['settle', 'holds']]);
    assert.equal(checkout.blockersTotal, 1);
    // settle blocks it and itself waits for ledger, which 'nightly report' holds and waits for nothing
    assert.deepEqual(checkout.chain.map((s) => [s.name, s.waitsFor?.label]), [['settle', 'ledger'], ['nightly report', undefined]]);
    assert.equal(checkout.chainEnd, 'head');
    const refund = r.waits.find((w) => w.waitId === 'w-refund');
    assert.deepEqual(refund?.blockers.map((b) => [b.name, b.how]), [['settle', 'holds'], ['checkout', 'queued-ahead']]);
    // minAgeMs is the same parameter under its earlier name
    const alias = await getOk<Waits>(daemon.url, '/v1/waits?minAgeMs=60000');
    assert.deepEqual(alias.waits.map((w) => w.waitId), r.waits.map((w) => w.waitId));
  });

  it('the chain stops at --max-wait-chain and says so; a cycle says it is one', async () => {
    const cut = await startTestDaemon({ logWaitsAfterMs: 0, maxWaitChain: 1 });
    const c = (await connectClient(cut.wsUrl, { service: 's' })).client;
    try {
      c.send({
        type: 'events',
        seq: 1,
        events: [
          ev.mutex('a'), ev.mutex('b'), ev.mutex('c'), ev.owner('x'), ev.owner('y'), ev.owner('z', { abortable: false }), ev.owner('q', { abortable: false }),
          ev.hold('y', 'a'), ev.hold('z', 'b'), ev.wait('wx', 'x', 'a'), ev.wait('wy', 'y', 'b'),
          // z and q: an unresolvable deadlock (neither abortable)
          ev.hold('q', 'c'), ev.wait('wz', 'z', 'c'), ev.wait('wq', 'q', 'b'),
        ],
      });
      await c.barrier();
      const r = await getOk<Waits>(cut.url, '/v1/waits?olderThanMs=0');
      const wx = r.waits.find((w) => w.waitId === 'wx');
      assert.equal(wx?.chain.length, 1);
      assert.equal(wx?.chainEnd, 'cut');
      const wz = r.waits.find((w) => w.waitId === 'wz');
      assert.equal(wz?.chainEnd, 'cycle');
      assert.equal(longWaitLines(cut).length, 0, '--log-waits-after-ms 0: no long-wait lines');
    } finally {
      await c.close();
      await cut.close();
    }
  });

  it('one log line per wait, shaped like a deadlock report, once', async () => {
    await eventually(() => longWaitLines(daemon).some((l) => l.waitId === 'w-checkout'), 'the long-wait line of w-checkout');
    const line = longWaitLines(daemon).find((l) => l.waitId === 'w-checkout')!;
    assert.match(line.text, /^long wait w-checkout in namespace 'default': task 'checkout' \(orders\) has waited [\d.]+ s for account:7/);
    assert.match(line.text, /task 'checkout' \(orders\) — instance orders-blue, client [0-9a-f-]+, owner checkout/);
    assert.match(line.text, /attributes: orderId="o-7"/);
    assert.match(line.text, /at checkout \(\/app\/orders\.js:12:3\)/);
    assert.doesNotMatch(line.text, /node:internal/, 'app frames only');
    assert.match(line.text, /blocked by:\n {4}task 'settle' \(orders\) — instance orders-blue, client [0-9a-f-]+, owner settle: holds account:7 for/);
    assert.match(line.text, /account:7 held by task 'settle' \(orders\) for [\d.]+ \w+ \(instance orders-blue\), which waits for ledger/);
    assert.match(line.text, /ledger held by task 'nightly report' \(orders\) for [\d.]+ \w+ \(instance orders-blue\), which waits for nothing: the head of the chain/);
    assert.equal(line.chainEnd, 'head');

    // A new wait later, and one that ends before its deadline: the first is logged once (not
    // again when the second comes due), the short one never.
    const t = Date.now();
    client.send({
      type: 'events',
      seq: 2,
      events: [ev.owner('quick'), ev.owner('late'), { ...ev.wait('w-quick', 'quick', 'ledger'), since: t - 1 }, ev.cancel('w-quick'), { ...ev.wait('w-late', 'late', 'ledger'), since: t }],
    });
    await client.barrier();
    await eventually(() => longWaitLines(daemon).some((l) => l.waitId === 'w-late'), 'the long-wait line of w-late, one AFTER_MS after it began');
    const ids = longWaitLines(daemon).map((l) => l.waitId);
    assert.equal(ids.filter((id) => id === 'w-checkout').length, 1, 'logged once');
    assert.equal(ids.includes('w-quick'), false, 'a wait that ended before its deadline is not logged');
  });

  it('deadlockd_oldest_wait_seconds is the age of the oldest pending wait, per namespace', async () => {
    const text = await (await fetch(`${daemon.url}/metrics`)).text();
    const m = /^deadlockd_oldest_wait_seconds\{namespace="default"\} ([\d.e+]+)$/m.exec(text);
    assert.ok(m, text.split('\n').filter((l) => l.includes('oldest')).join('\n'));
    assert.ok(Number(m[1]) >= OLD / 1000, `the two-minute-old wait: ${m[1]}`);
  });
});

describe('long-wait lines are rate limited', () => {
  it('past --max-wait-logs-per-second the rest are counted in one summary line', async () => {
    const d = await startTestDaemon({ logWaitsAfterMs: 1, maxWaitLogsPerSecond: 2 });
    const c = (await connectClient(d.wsUrl, { service: 's' })).client;
    try {
      const since = Date.now() - 60_000;
      const waiters = Array.from({ length: 10 }, (_, i) => `o${i}`);
      c.send({
        type: 'events',
        seq: 1,
        events: [ev.mutex('hot'), ev.owner('holder'), ev.hold('holder', 'hot'), ...waiters.flatMap((o) => [ev.owner(o), { ...ev.wait(`w-${o}`, o, 'hot'), since }])],
      });
      await c.barrier();
      await eventually(() => d.logs.some((l) => typeof l['suppressed'] === 'number'), 'the summary line');
      assert.equal(longWaitLines(d).length, 2);
      assert.equal(d.logs.find((l) => typeof l['suppressed'] === 'number')?.['suppressed'], 8);
    } finally {
      await c.close();
      await d.close();
    }
  });

  it('30,000 waits that come due together are all accounted for (the log pops them in slices)', async () => {
    const AFTER_MS = 300;
    const d = await startTestDaemon({ logWaitsAfterMs: AFTER_MS, maxWaitLogsPerSecond: 2 });
    const c = (await connectClient(d.wsUrl, { service: 's' })).client;
    try {
      const N = 30_000;
      const since = Date.now();
      const events: unknown[] = [ev.mutex('hot'), ev.owner('holder'), ev.hold('holder', 'hot')];
      for (let i = 0; i < N; i++) events.push(ev.owner(`o${i}`), { ...ev.wait(`w${i}`, `o${i}`, 'hot'), since });
      for (let k = 0, seq = 1; k < events.length; k += 5_000) c.send({ type: 'events', seq: seq++, events: events.slice(k, k + 5_000) });
      await c.barrier();
      const summaries = () => d.logs.filter((l) => typeof l['suppressed'] === 'number').map((l) => l['suppressed'] as number);
      const accounted = () => longWaitLines(d).length + summaries().reduce((a, b) => a + b, 0);
      await eventually(() => accounted() === N, `every one of the ${N} waits logged or counted`, 60_000);
      const seconds = Math.ceil((Date.now() - since) / 1000);
      assert.ok(longWaitLines(d).length <= 2 * (seconds + 1), `rate limited: ${longWaitLines(d).length} lines in ${seconds} s`);
    } finally {
      await c.close();
      await d.close();
    }
  });
});
