// The exact events the SDK sends for holds, waits, tasks and joins.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConnectOptions, type Held } from '../src/index.js';
import { IMMEDIATE, sdkFixture } from './fake-daemon.js';

// immediate reporting: these tests pin the exact events (the cheap defaults are tested in defaults.test.ts)
const fixture = sdkFixture({ service: 'wire', ...IMMEDIATE });

async function setup(opts: Partial<ConnectOptions> = {}, limits: { maxEventsPerFrame?: number; maxFrameBytes?: number } = {}) {
  const { daemon, dd } = await fixture.setup(opts, limits);
  assert.equal(dd.connected, true);
  return { daemon, dd };
}

describe('wire events', () => {
  it('hello carries protocol, service and a host:pid instance; no snapshot on a fresh start', async () => {
    const { daemon, dd } = await setup({ token: 'secret' });
    const [hello] = daemon.ofType('hello');
    assert.equal(hello?.protocol, 1);
    assert.equal(hello?.service, 'wire');
    assert.match(hello?.instance ?? '', new RegExp(`:${process.pid}$`));
    assert.equal(hello?.token, 'secret');
    assert.equal(hello?.resume, undefined);
    await daemon.barrier(dd);
    assert.deepEqual(daemon.ofType('snapshot'), []);
  });

  it('uncontended hold: declarations, hold, then release', async () => {
    const { daemon, dd } = await setup();
    const h = await dd.mutex('m').acquire();
    await daemon.waitFor(() => daemon.events().length === 3, 'hold');
    const [owner, resource, hold] = daemon.events();
    assert.deepEqual(
      { ...owner, startedAt: 0 },
      { type: 'owner', owner: 'main', name: 'main', priority: 0, abortable: true, startedAt: 0 },
    );
    assert.deepEqual(resource, { type: 'resource', resource: 'm', kind: 'mutex', scope: 'local', fifo: true });
    assert.equal(hold?.type, 'hold');
    assert.deepEqual({ ...hold, since: 0 }, { type: 'hold', owner: 'main', resource: 'm', since: 0 });
    h.release();
    await daemon.waitFor(() => daemon.events().length === 4, 'release');
    assert.deepEqual(daemon.events()[3], { type: 'release', owner: 'main', resource: 'm' });
  });

  it('a hold released before the flush never leaves the process', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('short');
    for (let i = 0; i < 100; i++) (await m.acquire()).release();
    await dd.task('t', async () => (await m.acquire()).release());
    await daemon.barrier(dd);
    assert.deepEqual(daemon.events(), []);
  });

  it('reportAfterMs > 0: a short hold sends nothing, a long one is reported after the threshold', async () => {
    const REPORT_AFTER_MS = 1_000; // far above the few microseconds the short hold lasts, even on a slow machine
    const { daemon, dd } = await setup({ reportAfterMs: REPORT_AFTER_MS });
    const m = dd.mutex('thr');
    const short = await m.acquire();
    short.release();
    // reports leave in the order their holds began: had the short hold been reported, it would
    // arrive before the long one
    const longSince = Date.now();
    const long = await m.acquire();
    await daemon.waitFor(() => daemon.facts().length >= 1, 'the long hold');
    assert.ok(Date.now() - longSince >= REPORT_AFTER_MS - 5, 'reported only after the threshold');
    assert.deepEqual(daemon.facts().map((e) => e.type), ['hold'], 'the short hold stayed local');
    assert.ok((daemon.facts()[0] as { since: number }).since >= longSince);
    long.release();
    await daemon.waitFor(() => daemon.facts().length === 2, 'its release');
    assert.equal(daemon.facts()[1]?.type, 'release');
  });

  it('contended: hold, wait (with the call site), release, grant — in that order', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('c');
    let letGo!: () => void;
    const gate = new Promise<void>((r) => (letGo = r));
    let aHolds!: () => void;
    const aHolding = new Promise<void>((r) => (aHolds = r));
    const a = dd.task('A', async () => {
      const h = await m.acquire();
      aHolds();
      await gate;
      h.release();
    });
    await aHolding;
    await daemon.waitFor(() => daemon.facts().length === 1, 'hold');
    const b = dd.task('B', async () => (await m.acquire()).release());
    await daemon.waitFor(() => daemon.facts().length === 2, 'wait');
    letGo();
    await Promise.all([a, b]);
    await daemon.waitFor(() => daemon.facts().length === 7, 'release, grant, release, ends');
    const facts = daemon.facts();
    const owners = new Map(daemon.events().flatMap((e) => (e.type === 'owner' ? [[e.name, e.owner] as const] : [])));
    const A = owners.get('A');
    const B = owners.get('B');
    const w = facts[1];
    assert.ok(w && w.type === 'wait');
    assert.deepEqual(
      facts.filter((e) => e.type !== 'end'),
      [
        { type: 'hold', owner: A, resource: 'c', since: (facts[0] as { since: number }).since },
        w,
        { type: 'release', owner: A, resource: 'c' },
        { type: 'grant', waitId: w.waitId, since: (facts[3] as { since: number }).since },
        { type: 'release', owner: B, resource: 'c' },
      ],
    );
    assert.deepEqual(new Set(facts.filter((e) => e.type === 'end').map((e) => (e as { owner: string }).owner)), new Set([A, B]));
    assert.equal(w.owner, B);
    assert.equal(w.resource, 'c');
    assert.match(w.waitId, /^w\d+$/);
    assert.equal(typeof w.since, 'number');
    assert.match(w.stack ?? '', /wire\.test\.(js|ts)/, 'the call site points at the test');
  });

  it('a wait granted before the flush is reported as a plain hold', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('quick');
    const ha = await m.acquire();
    const hb = m.acquire();
    ha.release();
    const b = await hb;
    await daemon.waitFor(() => daemon.facts().length === 1, 'hold');
    await daemon.barrier(dd);
    assert.deepEqual(daemon.facts().map((e) => e.type), ['hold']);
    b.release();
  });

  it('reportAfterMs: reports that become due together keep the order the holds/waits began', async () => {
    const { daemon, dd } = await setup({ reportAfterMs: 40 });
    const s = dd.semaphore('q', 1);
    const h1 = await s.acquire();
    const w1 = dd.task('w1', async () => (await s.acquire({ units: 1 })).release());
    const w2 = dd.task('w2', async () => (await s.acquire({ units: 1 })).release());
    await daemon.waitFor(() => daemon.facts().length === 3, 'hold, wait, wait');
    const facts = daemon.facts();
    assert.deepEqual(facts.map((e) => e.type), ['hold', 'wait', 'wait']);
    const names = new Map(daemon.events().flatMap((e) => (e.type === 'owner' ? [[e.owner, e.name] as const] : [])));
    assert.deepEqual(facts.map((e) => names.get((e as { owner: string }).owner)), ['main', 'w1', 'w2']);
    assert.equal((facts[1] as { units?: number }).units, 1);
    const decl = daemon.events().find((e) => e.type === 'resource');
    assert.deepEqual(decl, { type: 'resource', resource: 'q', kind: 'semaphore', scope: 'local', capacity: 1, fifo: true });
    h1.release();
    await Promise.all([w1, w2]);
  });

  it('reportAfterMs: a wait by an owner that holds something reports everything unreported at once, in order', async () => {
    const { daemon, dd } = await setup({ reportAfterMs: 600_000 }); // nothing becomes due by age in this test
    const m = dd.mutex('hot');
    const n = dd.mutex('inner');
    const h = await m.acquire();
    const plain = dd.task('plain', async () => (await m.acquire()).release());
    // an urgent flush runs on setImmediate: two turns later it would have sent its frame
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    let nestedWaits!: () => void;
    const waiting = new Promise<void>((r) => (nestedWaits = r));
    const nested = dd.task('nested', async () => {
      const inner = await n.acquire();
      const p = m.acquire();
      nestedWaits();
      (await p).release();
      inner.release();
    });
    await waiting;
    await daemon.waitFor(() => daemon.facts().length === 4, 'the hold-and-wait and everything before it');
    const names = new Map(daemon.events().flatMap((e) => (e.type === 'owner' ? [[e.owner, e.name] as const] : [])));
    assert.deepEqual(
      daemon.facts().map((e) => [e.type, names.get((e as { owner: string }).owner), (e as { resource?: string }).resource]),
      [['hold', 'main', 'hot'], ['wait', 'plain', 'hot'], ['hold', 'nested', 'inner'], ['wait', 'nested', 'hot']],
    );
    // the plain wait (its owner holds nothing) did not flush by itself: all four left in one frame
    assert.equal(daemon.ofType('events').filter((f) => f.events.some((e) => e.type === 'hold' || e.type === 'wait')).length, 1);
    h.release();
    await Promise.all([plain, nested]);
  });

  it('a reported wait that times out sends cancel {reason: timeout}', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('to');
    const h = await m.acquire();
    await assert.rejects(dd.task('late', () => m.acquire({ timeoutMs: 60 })));
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'cancel'), 'cancel');
    const wait = daemon.facts().find((e) => e.type === 'wait');
    const cancel = daemon.facts().find((e) => e.type === 'cancel');
    assert.deepEqual(cancel, { type: 'cancel', waitId: (wait as { waitId: string }).waitId, reason: 'timeout' });
    h.release();
  });

  it('rwlock holds carry the mode; setCapacity re-declares a known semaphore', async () => {
    const { daemon, dd } = await setup();
    const l = dd.rwlock('cfg');
    const r = await l.acquire('shared');
    const s = dd.semaphore('pool', 4);
    const p = await s.acquire({ units: 3 });
    await daemon.waitFor(() => daemon.facts().length === 2, 'two holds');
    s.setCapacity(2);
    r.release();
    p.release();
    await daemon.waitFor(() => daemon.facts().length === 4, 'releases');
    const ev = daemon.events();
    const decls = ev.filter((e) => e.type === 'resource' && e.resource === 'pool');
    assert.deepEqual(decls.map((d) => (d as { capacity?: number }).capacity), [4, 2]);
    assert.deepEqual(daemon.facts().map((e) => [e.type, (e as { mode?: string }).mode, (e as { units?: number }).units]), [
      ['hold', 'shared', undefined],
      ['hold', undefined, 3],
      ['release', 'shared', undefined],
      ['release', undefined, 3],
    ]);
  });

  it('a task that was reported sends end; one that never was sends nothing', async () => {
    const { daemon, dd } = await setup();
    await dd.task('quiet', async () => (await dd.mutex('x').acquire()).release());
    await daemon.barrier(dd);
    assert.deepEqual(daemon.events(), []);
    await dd.task('seen', { priority: 5, abortable: false }, async () => {
      const h = await dd.mutex('x').acquire();
      await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'hold'), 'the hold to be reported');
      h.release();
    });
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'end'), 'end');
    const owner = daemon.events().find((e) => e.type === 'owner');
    assert.equal(owner?.type === 'owner' && owner.name, 'seen');
    assert.equal(owner?.type === 'owner' && owner.priority, 5);
    assert.equal(owner?.type === 'owner' && owner.abortable, false);
    assert.deepEqual(daemon.facts().map((e) => e.type), ['hold', 'release', 'end']);
  });

  it('join: a wait on the task (declared first), then only end {joined}', async () => {
    const { daemon, dd } = await setup();
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const sub = dd.spawn('sub', async () => {
      await done;
      return 42;
    });
    const result = dd.task('parent', () => sub.join());
    await daemon.waitFor(() => daemon.facts().length === 1, 'join wait');
    const ev = daemon.events();
    const wait = ev.find((e) => e.type === 'wait');
    assert.ok(wait && wait.type === 'wait');
    assert.equal(wait.task, sub.id);
    assert.equal(wait.resource, undefined);
    const subDecl = ev.findIndex((e) => e.type === 'owner' && e.owner === sub.id);
    assert.ok(subDecl >= 0 && subDecl < ev.indexOf(wait), 'the joined owner is declared before the wait');
    finish();
    assert.equal(await result, 42);
    await daemon.waitFor(() => daemon.facts().filter((e) => e.type === 'end').length === 2, 'ends');
    assert.deepEqual(daemon.facts().map((e) => e.type), ['wait', 'end', 'end']);
    assert.equal((daemon.facts()[1] as { owner: string }).owner, sub.id, 'the joined task ends first');
    // joining a finished task resolves at once, with no wait
    assert.equal(await sub.join(), 42);
  });

  it('batching: thousands of events go out in a few frames', async () => {
    const { daemon, dd } = await setup({}, { maxEventsPerFrame: 1000 });
    const helds: Held[] = [];
    for (let i = 0; i < 1500; i++) helds.push(await dd.mutex(`b${i}`).acquire());
    // main holds each lock while taking the next: 1499 lock-order facts go out too (not counted here)
    const state = () => daemon.events().filter((e) => e.type !== 'order');
    await daemon.waitFor(() => state().length === 3001, 'owner + 1500 × (resource, hold)');
    const frames = daemon.ofType('events');
    assert.ok(frames.length <= 6, `${frames.length} frames for about 4,500 events`);
    assert.ok(frames.every((f) => f.events.length <= 1000));
    const seqs = frames.map((f) => f.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    for (const h of helds) h.release();
    await daemon.waitFor(() => state().length === 4501, 'releases');
    assert.ok(daemon.ofType('events').length <= 8);
  });

  it("frames stay under the daemon's maxFrameBytes", async () => {
    const { daemon, dd } = await setup({}, { maxFrameBytes: 2000 });
    const helds: Held[] = [];
    for (let i = 0; i < 100; i++) helds.push(await dd.mutex(`a-rather-long-resource-name-${i}`).acquire());
    await daemon.waitFor(() => daemon.events().filter((e) => e.type !== 'order').length === 201, 'all declarations and holds');
    const sent = daemon.frames.filter((r) => r.frame.type === 'events');
    assert.ok(sent.length > 1);
    for (const r of sent) assert.ok(Buffer.byteLength(r.raw) <= 2000, `a frame of ${Buffer.byteLength(r.raw)} bytes`);
    for (const h of helds) h.release();
  });

  it('rwlock upgrade: events mirror the daemon (upgrade grant subsumes the shared hold)', async () => {
    const { daemon, dd } = await setup();
    const l = dd.rwlock('up');
    let releaseB!: () => void;
    const bGate = new Promise<void>((r) => (releaseB = r));
    let bIn!: () => void;
    const bHolding = new Promise<void>((r) => (bIn = r));
    const b = dd.task('B', async () => {
      const h = await l.acquire('shared');
      bIn();
      await bGate;
      h.release();
    });
    await bHolding;
    const types = () =>
      daemon.facts().filter((e) => e.type !== 'end').map((e) => `${e.type}${'mode' in e && e.mode ? ':' + e.mode : ''}`);
    await dd.task('A', async () => {
      // first: release exclusive, then shared → the shared hold is re-reported in between
      const s1 = await l.acquire('shared');
      const up = l.acquire('exclusive');
      await daemon.waitFor(() => types().includes('wait:exclusive'), 'upgrade wait');
      releaseB();
      const x1 = await up;
      x1.release();
      s1.release();
      await daemon.waitFor(() => types().length === 8, 'first round');
      assert.deepEqual(types(), [
        'hold:shared', 'hold:shared', 'wait:exclusive', 'release:shared', 'grant',
        'release:exclusive', 'hold:shared', 'release:shared',
      ]);
      // then: an immediate upgrade (no other reader), shared released first → subsumed, nothing sent for it
      const s2 = await l.acquire('shared');
      await daemon.waitFor(() => types().length === 9, 'shared hold');
      const x2 = await l.acquire('exclusive');
      await daemon.waitFor(() => types().length === 10, 'exclusive hold');
      s2.release();
      x2.release();
      await daemon.waitFor(() => types().length === 11, 'release');
      assert.deepEqual(types().slice(8), ['hold:shared', 'hold:exclusive', 'release:exclusive']);
    });
    await b;
  });
});
