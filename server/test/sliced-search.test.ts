// A big ring's search goes on in slices (namespace.ts, engine/steps.ts): while it runs, another
// namespace is served, the ring's namespace holds its client's next frames and applies them in
// order once the search has ended, and the ring gets exactly one abort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerFrame } from '@deadlockd/proto';
import { connectClient, ev, eventually, startTestDaemon } from './helpers.js';

const RING = 20_000;

test(`a ${RING.toLocaleString('en')}-member ring is searched in slices: another namespace's deadlock is resolved meanwhile; the ring's next frame waits for the end`, async () => {
  const daemon = await startTestDaemon({ tokens: { 'tok-ring': 'ring', 'tok-other': 'other' }, metricsToken: 'tok-metrics' });
  try {
    const { client: ring } = await connectClient(daemon.wsUrl, { token: 'tok-ring', service: 'ring' });
    const { client: other } = await connectClient(daemon.wsUrl, { token: 'tok-other', service: 'other' });
    const hub = daemon.app.deadlockd.hub;

    // the ring, still open: t_i holds r_i and waits for r_{i+1}, all but the last
    const events: unknown[] = [];
    for (let i = 0; i < RING; i++) events.push(ev.mutex(`r${i}`), ev.hold(`t${i}`, `r${i}`));
    for (let i = 0; i < RING - 1; i++) events.push(ev.wait(`w${i}`, `t${i}`, `r${i + 1}`));
    let seq = 1;
    for (let k = 0; k < events.length; k += 5_000) ring.send({ type: 'events', seq: seq++, events: events.slice(k, k + 5_000) });
    await ring.barrier();
    other.send({ type: 'events', seq: 1, events: [ev.mutex('x'), ev.mutex('y'), ev.hold('a', 'x'), ev.hold('b', 'y'), ev.wait('wa', 'a', 'y')] });
    await other.barrier();
    assert.equal(ring.queued('abort').length + other.queued('abort').length, 0);

    const order: string[] = [];
    const seen = (what: string) => (f: ServerFrame) => (order.push(what), f);
    const ringAbort = ring.next('abort').then(seen('ring abort'));
    const otherAbort = other.next('abort').then(seen('other abort'));

    // close the ring; once its search is under way, a frame of the ring's client (it must wait for the
    // search's end: a release of nothing, answered NOT_HELD) and the other namespace's cycle
    ring.send({ type: 'events', seq: seq++, events: [ev.wait(`w${RING - 1}`, `t${RING - 1}`, 'r0')] });
    const ns = hub.namespace('ring');
    await eventually(() => ns.busy, "the ring's search going on in slices");
    const later = seq++;
    const ringError = ring.next('error', (e) => e.ref?.seq === later).then(seen('ring error'));
    ring.send({ type: 'events', seq: later, events: [ev.release('nobody', 'r0')] });
    other.send({ type: 'events', seq: 2, events: [ev.wait('wb', 'b', 'x')] });

    const [ra, oa, re] = await Promise.all([ringAbort, otherAbort, ringError]);
    assert.deepEqual(order, ['other abort', 'ring abort', 'ring error'], 'the other namespace was served during the search; the held frame after it');
    assert.equal(re.type === 'error' && re.code, 'NOT_HELD');
    assert.ok(oa.type === 'abort' && ['wa', 'wb'].includes(oa.waitId));
    assert.ok(ra.type === 'abort');

    // one deadlock of RING members, one abort
    await ring.barrier();
    assert.equal(ring.queued('abort').length, 0, 'one abort for the ring');
    const cycles = (await (await fetch(`${daemon.url}/v1/cycles`, { headers: { authorization: 'Bearer tok-ring' } })).json()) as {
      cycles: { report: { membersTotal?: number; members: unknown[] } }[];
    };
    assert.equal(cycles.cycles.length, 1);
    assert.equal(cycles.cycles[0]?.report.membersTotal, RING);
    const metrics = await (await fetch(`${daemon.url}/metrics`, { headers: { authorization: 'Bearer tok-metrics' } })).text();
    const count = Number(/^deadlockd_sliced_search_duration_seconds_count (\d+)/m.exec(metrics)?.[1]);
    assert.ok(count >= 1, `the sliced search is counted (${count})`);
    await ring.close();
    await other.close();
  } finally {
    await daemon.close();
  }
});

test('the periodic sweep over a big blocked part runs in slices too, and the frames it held are applied after it', async () => {
  const daemon = await startTestDaemon({ sweepIntervalMs: 200 });
  try {
    const { client } = await connectClient(daemon.wsUrl, { service: 'chain' });
    const hub = daemon.app.deadlockd.hub;
    // an open chain of RING owners: every one of them waits, none is deadlocked
    const events: unknown[] = [];
    for (let i = 0; i < RING; i++) events.push(ev.mutex(`r${i}`), ev.hold(`t${i}`, `r${i}`));
    for (let i = 0; i < RING - 1; i++) events.push(ev.wait(`w${i}`, `t${i}`, `r${i + 1}`));
    for (let k = 0, seq = 1; k < events.length; k += 5_000) client.send({ type: 'events', seq: seq++, events: events.slice(k, k + 5_000) });
    await client.barrier();
    const ns = hub.namespace('default');
    // nothing is being applied now: a busy namespace is the sweep going on in slices
    await eventually(() => ns.busy, 'a sweep going on in slices');
    await client.barrier(); // held while it runs, answered after
    const before = hub.stats().sweeps;
    await eventually(() => hub.stats().sweeps >= before + 2, 'two more sweeps');
    assert.equal(hub.stats().missed, 0);
    assert.equal(client.queued('abort').length, 0, 'an open chain is no deadlock');
    await client.close();
  } finally {
    await daemon.close();
  }
});

test('a client that leaves with many holds is dropped in slices; a frame of another client meanwhile is applied after it', async () => {
  const daemon = await startTestDaemon({ disconnectGraceMs: 0 });
  try {
    const HOLDS = 2 * RING;
    const { client: big } = await connectClient(daemon.wsUrl, { service: 'big' });
    const { client: other } = await connectClient(daemon.wsUrl, { service: 'other' });
    const hub = daemon.app.deadlockd.hub;
    const ns = hub.namespace('default');
    const events: unknown[] = [ev.mutex('shared', 'global'), ev.hold('keeper', 'shared')];
    for (let i = 0; i < HOLDS; i++) events.push(ev.mutex(`r${i}`), ev.hold(`t${i}`, `r${i}`));
    for (let k = 0, seq = 1; k < events.length; k += 5_000) big.send({ type: 'events', seq: seq++, events: events.slice(k, k + 5_000) });
    await big.barrier();
    other.send({ type: 'events', seq: 1, events: [ev.mutex('shared', 'global'), ev.wait('w-shared', 'o1', 'shared')] });
    await other.barrier();
    assert.equal(ns.engine.stats().holds, HOLDS + 1);

    await big.close(); // grace 0: removed at once, in slices
    await eventually(() => ns.busy, "the big client's removal going on in slices");
    const held = other.next('error', (e) => e.ref?.seq === 2);
    other.send({ type: 'events', seq: 2, events: [ev.release('nobody', 'shared')] });
    const e = await held;
    assert.equal(e.type === 'error' && e.code, 'NOT_HELD');
    // answered after the removal: the big client's holds are gone, the other client's wait is left
    assert.equal(ns.busy, false);
    assert.deepEqual(ns.engine.stats(), { owners: 1, resources: 1, holds: 0, waits: 1 });
    await other.close();
  } finally {
    await daemon.close();
  }
});

test("a big snapshot replaces the client's state in slices; its rejected event is reported after the last slice, and another client's frame meanwhile after it", async () => {
  const daemon = await startTestDaemon();
  try {
    const HOLDS = 2 * RING;
    const { client: big } = await connectClient(daemon.wsUrl, { service: 'big' });
    const { client: other } = await connectClient(daemon.wsUrl, { service: 'other' });
    const ns = daemon.app.deadlockd.hub.namespace('default');
    big.send({ type: 'events', seq: 1, events: [ev.mutex('before'), ev.hold('old', 'before')] });
    await big.barrier();
    assert.deepEqual(ns.engine.stats(), { owners: 1, resources: 1, holds: 1, waits: 0 });

    const events: unknown[] = [];
    for (let i = 0; i < HOLDS; i++) events.push(ev.mutex(`r${i}`), ev.hold(`t${i}`, `r${i}`));
    events.push(ev.release('nobody', 'r0')); // rejected: NOT_HELD, at its part's seq and index
    const PART = 5_000;
    const parts = Math.ceil(events.length / PART);
    const lastSeq = 1 + parts;
    const order: string[] = [];
    const snapshotError = big.next('error', (e) => e.ref?.seq === lastSeq).then((e) => (order.push('snapshot error'), e));
    for (let k = 0, seq = 2; k < events.length; k += PART, seq++)
      big.send({ type: 'snapshot', seq, events: events.slice(k, k + PART), ...(seq < lastSeq ? { more: true } : {}) });
    await eventually(() => ns.busy, 'the snapshot going on in slices');
    const otherError = other.next('error', (e) => e.ref?.seq === 1).then(() => (order.push('other error'), ns.engine.stats()));
    other.send({ type: 'events', seq: 1, events: [ev.mutex('x'), ev.release('nobody', 'x')] });

    const [se, statsThen] = await Promise.all([snapshotError, otherError]);
    assert.deepEqual(order, ['snapshot error', 'other error'], "the other client's frame waited for the snapshot's end");
    assert.equal(se.type === 'error' && se.code, 'NOT_HELD');
    assert.deepEqual(se.type === 'error' && se.ref, { seq: lastSeq, index: (events.length - 1) % PART });
    // the old hold is gone, the snapshot's are there, and the other client's mutex was declared after
    assert.deepEqual(statsThen, { owners: HOLDS, resources: HOLDS + 1, holds: HOLDS, waits: 0 });
    await big.close();
    await other.close();
  } finally {
    await daemon.close();
  }
});
