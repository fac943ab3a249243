// Deadlocks through raw frames: detection, confirm rounds, aborts, stale
// answers, reconnects. A real daemon, real ws clients.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AbortFrame } from '@deadlockd/proto';
import type { Namespace } from '../src/namespace.js';
import { connectClient, ev, eventually, startTestDaemon, type TestClient, type TestDaemon } from './helpers.js';
import { crossAcrossClients, crossedPair } from './rest-helpers.js';

describe('deadlock resolution over /v1/stream', () => {
  let daemon: TestDaemon;
  before(async () => {
    // every confirm here is answered: the deadline must never be what a test sees, however slow
    // the machine (the round that times out has its own daemon below)
    daemon = await startTestDaemon({ disconnectGraceMs: 0, confirmTimeoutMs: 30_000 });
  });
  after(() => daemon.close());

  const hub = () => daemon.app.deadlockd.hub;

  /** a and b each hold one mutex and wait for the other's */
  const crossed = crossedPair();

  // After every test, while its clients are still connected: a full sweep finds nothing the
  // incremental path missed in whatever that test built.
  afterEach(() => {
    const missedBefore = hub().stats().missed;
    assert.equal(hub().sweep().missed, 0);
    assert.equal(hub().stats().missed, missedBefore);
  });

  it('two owners of one client: abort for exactly one wait, a deadlock report, a log line', async () => {
    const { client, welcome } = await connectClient(daemon.wsUrl, { service: 'payments' });
    assert.equal(welcome.namespace, 'default');
    assert.equal(welcome.resumed, false);
    client.send({ type: 'events', seq: 1, events: crossed });
    const abort = await client.next('abort');
    assert.equal(abort.owner, 'a', 'lowest priority is the victim');
    assert.equal(abort.waitId, 'wa');
    assert.equal(abort.report.id, abort.deadlock);
    assert.equal(abort.report.resolution, 'aborting');
    assert.deepEqual(abort.report.members.map((m) => m.owner).sort(), ['a', 'b']);
    const report = await client.next('deadlock');
    assert.equal(report.report.id, abort.deadlock);
    await client.barrier();
    assert.equal(client.queued('abort').length, 0, 'exactly one abort');
    assert.equal(client.queued('confirm').length, 0, 'no confirm round within one client');

    const line = daemon.logs.find((l) => l['msg'] === 'deadlock detected' && l['deadlock'] === abort.deadlock);
    assert.ok(line, 'one log line per deadlock');
    assert.equal(typeof line['text'], 'string');
    assert.ok((line['text'] as string).length > 0);
    assert.equal((line['report'] as { id: string }).id, abort.deadlock);
    assert.equal(daemon.logs.filter((l) => l['msg'] === 'deadlock detected' && l['deadlock'] === abort.deadlock).length, 1);

    // the SDK cancels the wait, then answers: the deadlock is over and in the history
    client.send({ type: 'events', seq: 2, events: [{ type: 'cancel', waitId: 'wa', reason: 'deadlock' }] });
    client.send({ type: 'abort_result', deadlock: abort.deadlock, waitId: 'wa', result: 'aborted' });
    await client.barrier();
    const entry = hub().namespace().history.get(abort.deadlock);
    assert.equal(entry?.status, 'resolved');
    assert.equal(client.queued('abort').length, 0);
    await client.close();
  });

  it('two clients: a confirm round first, then one abort to the victim client only', async () => {
    const { one, two } = await crossAcrossClients(daemon.wsUrl, { prefix: 'g', priorities: [0, 9] });

    const c1 = await one.next('confirm');
    const c2 = await two.next('confirm');
    assert.equal(c1.check, c2.check, 'one round');
    assert.deepEqual(c1.waits, ['wa']);
    assert.deepEqual(c2.waits, ['wb']);
    assert.equal(one.queued('abort').length + two.queued('abort').length, 0, 'nobody aborted before the round ends');

    one.send({ type: 'confirm_result', check: c1.check, pending: ['wa'] });
    await one.barrier();
    assert.equal(one.queued('abort').length, 0, 'not before every member answered');
    two.send({ type: 'confirm_result', check: c2.check, pending: ['wb'] });

    const abort = await one.next('abort');
    assert.equal(abort.waitId, 'wa');
    assert.equal(abort.owner, 'a');
    assert.equal((await one.next('deadlock')).report.id, abort.deadlock);
    assert.equal((await two.next('deadlock')).report.id, abort.deadlock);
    await two.barrier();
    await one.barrier();
    assert.equal(two.queued('abort').length, 0, 'the other client gets no abort');
    assert.equal(one.queued('abort').length, 0, 'exactly one abort');
    await one.close();
    await two.close();
  });

  it('a confirm round during which the graph changed acts on the deadlock as it is then: searched again', async () => {
    const { one, two } = await crossAcrossClients(daemon.wsUrl, { prefix: 'v', priorities: [0, 9] });
    const c1 = await one.next('confirm');
    const c2 = await two.next('confirm');
    // while the clients are asked, the victim-to-be takes one more lock: its abort's report shows it
    one.send({ type: 'events', seq: 3, events: [ev.mutex('v-extra'), ev.hold('a', 'v-extra')] });
    one.send({ type: 'confirm_result', check: c1.check, pending: ['wa'] });
    two.send({ type: 'confirm_result', check: c2.check, pending: ['wb'] });
    const abort = await one.next('abort');
    assert.equal(abort.waitId, 'wa');
    const a = abort.report.members.find((m) => m.owner === 'a');
    assert.ok(a && JSON.stringify(a.holds).includes('v-extra'), `the report of the graph after the change: ${JSON.stringify(a?.holds)}`);
    await one.close();
    await two.close();
  });

  it('a phantom across clients (a wait already granted on the client) aborts nobody', async () => {
    const { one, two } = await crossAcrossClients(daemon.wsUrl, { prefix: 'p' });
    const c1 = await one.next('confirm');
    const c2 = await two.next('confirm');
    // client one: its wait had in fact ended (the cancel was still in its buffer): it flushes, then answers
    one.send({ type: 'events', seq: 3, events: [ev.cancel('wa')] });
    one.send({ type: 'confirm_result', check: c1.check, pending: [] });
    two.send({ type: 'confirm_result', check: c2.check, pending: ['wb'] });
    await one.barrier();
    await two.barrier();
    assert.equal(one.queued('abort').length + two.queued('abort').length, 0);
    assert.equal(one.queued('deadlock').length + two.queued('deadlock').length, 0);
    assert.equal(hub().namespace().resolverStats().openRounds, 0);
    await one.close();
    await two.close();
  });

  it('waits never confirmed: a new round each time, then dropped after confirmRounds', async () => {
    let droppedBefore = 0;
    const { one, two } = await crossAcrossClients(daemon.wsUrl, {
      prefix: 'r',
      beforeClosing: () => (droppedBefore = hub().namespace().resolverStats().droppedUnconfirmed),
    });
    const checks = new Set<string>();
    // client one keeps saying its wait is not pending, yet never reports it ended (a lagging view)
    for (let round = 1; round <= daemon.app.deadlockd.config.confirmRounds; round++) {
      const c1 = await one.next('confirm');
      const c2 = await two.next('confirm');
      assert.equal(c1.check, c2.check);
      checks.add(c1.check);
      one.send({ type: 'confirm_result', check: c1.check, pending: [] });
      two.send({ type: 'confirm_result', check: c2.check, pending: ['wb'] });
    }
    await eventually(() => hub().namespace().resolverStats().droppedUnconfirmed > droppedBefore, 'dropped');
    assert.equal(checks.size, daemon.app.deadlockd.config.confirmRounds, 'a fresh check id per round');
    await one.barrier();
    await two.barrier();
    assert.equal(one.queued('confirm').length + two.queued('confirm').length, 0, 'no round beyond the limit');
    assert.equal(one.queued('abort').length + two.queued('abort').length, 0, 'nobody aborted');
    await one.close();
    await two.close();
  });

  it('a `stale` abort_result makes the daemon re-check', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    client.send({ type: 'events', seq: 1, events: crossed });
    const first = await client.next('abort');
    // the client says the wait already ended, but never reported it: the graph
    // still has the cycle, so the re-check finds it again and aborts again
    client.send({ type: 'abort_result', deadlock: first.deadlock, waitId: first.waitId, result: 'stale' });
    const second = await client.next('abort');
    assert.notEqual(second.deadlock, first.deadlock);
    assert.equal(second.waitId, 'wa');

    // this time b's wait ends first; after `stale` the re-check finds no cycle: no third abort
    client.send({ type: 'events', seq: 2, events: [ev.cancel('wb')] });
    client.send({ type: 'abort_result', deadlock: second.deadlock, waitId: second.waitId, result: 'stale' });
    await client.barrier();
    assert.equal(client.queued('abort').length, 0);
    await client.close();
  });

  it('an unresolvable deadlock (no abortable member) is reported to every member, no abort', async () => {
    const { client } = await connectClient(daemon.wsUrl);
    client.send({
      type: 'events',
      seq: 1,
      events: [
        ev.mutex('u1'),
        ev.mutex('u2'),
        ev.owner('a', { abortable: false }),
        ev.owner('b', { abortable: false }),
        ev.hold('a', 'u1'),
        ev.hold('b', 'u2'),
        ev.wait('wa', 'a', 'u2'),
        ev.wait('wb', 'b', 'u1'),
      ],
    });
    const d = await client.next('deadlock');
    assert.equal(d.report.resolution, 'unresolvable');
    assert.equal(d.report.victim, null);
    await client.barrier();
    assert.equal(client.queued('abort').length, 0);
    assert.equal(hub().namespace().history.get(d.report.id)?.status, 'unresolvable');
    await client.close();
  });
});

describe('a confirm round nobody finishes', () => {
  let daemon: TestDaemon;
  before(async () => {
    // the deadline is what this test waits for; no answer has to beat it
    daemon = await startTestDaemon({ disconnectGraceMs: 0, confirmTimeoutMs: 300 });
  });
  after(() => daemon.close());
  const hub = () => daemon.app.deadlockd.hub;
  afterEach(() => {
    const missedBefore = hub().stats().missed;
    assert.equal(hub().sweep().missed, 0);
    assert.equal(hub().stats().missed, missedBefore);
  });

  it('a silent client: at the confirm deadline it is taken at its last word, and its owner is never the victim', async () => {
    let timeoutsBefore = 0;
    const { one, two } = await crossAcrossClients(daemon.wsUrl, {
      prefix: 's',
      beforeClosing: () => (timeoutsBefore = hub().namespace().resolverStats().confirmTimeouts),
    });
    const c1 = await one.next('confirm');
    await two.next('confirm'); // two never answers
    one.send({ type: 'confirm_result', check: c1.check, pending: ['wa'] });
    // b (two's owner, the younger) would be the victim; two is silent, so a is chosen instead
    const abort = await one.next('abort');
    assert.ok(hub().namespace().resolverStats().confirmTimeouts > timeoutsBefore, 'the round timed out first');
    assert.equal(abort.owner, 'a');
    assert.equal(abort.waitId, 'wa');
    assert.equal(typeof abort.expiresAt, 'number');
    await two.barrier();
    assert.equal(two.queued('abort').length, 0, 'no abort to the silent client');
    one.send({ type: 'events', seq: 3, events: [ev.cancel('wa')] });
    one.send({ type: 'abort_result', deadlock: abort.deadlock, waitId: 'wa', result: 'aborted' });
    await eventually(() => hub().namespace().history.get(abort.deadlock)?.status === 'resolved', 'resolved');
    await one.close();
    await two.close();
  });
});

describe('disconnect and resume', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon({ disconnectGraceMs: 60_000 });
  });
  after(() => daemon.close());

  it('a hello with `resume` within the grace period re-attaches the session and accepts a snapshot', async () => {
    const hub = daemon.app.deadlockd.hub;
    const first = await connectClient(daemon.wsUrl, { service: 'orders' });
    first.client.send({ type: 'events', seq: 1, events: [ev.mutex('m'), ev.owner('a'), ev.hold('a', 'm')] });
    await first.client.barrier();
    await first.client.close();
    await eventually(() => hub.client(first.welcome.session)?.conn === null, 'session detached');
    assert.equal(hub.namespace().engine.stats().holds, 1, 'holds kept during the grace period');

    const secret = first.welcome.resumeSecret;
    assert.ok(secret, 'welcome carries a resume secret');
    const second = await connectClient(daemon.wsUrl, { service: 'orders', resume: first.welcome.session, resumeSecret: secret });
    assert.equal(second.welcome.resumed, true);
    assert.equal(second.welcome.session, first.welcome.session);
    second.client.send({ type: 'snapshot', seq: 0, events: [ev.mutex('m'), ev.mutex('n'), ev.owner('a'), ev.hold('a', 'n')] });
    await second.client.barrier();
    assert.equal(second.client.queued('error').length, 0, JSON.stringify(second.client.frames));
    const stats = hub.namespace().engine.stats();
    assert.equal(stats.holds, 1);

    // an unknown session id is a fresh session
    const third = await connectClient(daemon.wsUrl, { service: 'orders', resume: 'no-such-session' });
    assert.equal(third.welcome.resumed, false);
    assert.notEqual(third.welcome.session, first.welcome.session);
    await second.client.close();
    await third.client.close();
  });

  it('resume needs the secret of the latest welcome: the session id alone (listed by GET /v1/clients) takes nothing over', async () => {
    const hub = daemon.app.deadlockd.hub;
    const owner = await connectClient(daemon.wsUrl, { service: 'victim-svc' });
    owner.client.send({ type: 'events', seq: 1, events: [ev.mutex('vm'), ev.owner('v'), ev.hold('v', 'vm')] });
    await owner.client.barrier();
    await owner.client.close();
    await eventually(() => hub.client(owner.welcome.session)?.conn === null, 'session detached');
    const session = owner.welcome.session;
    for (const resumeSecret of [undefined, 'guessed', `${owner.welcome.resumeSecret}x`]) {
      const thief = await connectClient(daemon.wsUrl, { service: 'victim-svc', resume: session, ...(resumeSecret ? { resumeSecret } : {}) });
      assert.equal(thief.welcome.resumed, false, `resumed with secret ${String(resumeSecret)}`);
      assert.notEqual(thief.welcome.session, session);
      // the thief cannot release the victim's hold: it is not its session
      thief.client.send({ type: 'events', seq: 1, events: [ev.mutex('vm'), ev.release('v', 'vm')] });
      const err = await thief.client.next('error');
      assert.equal(err.code, 'NOT_HELD');
      await thief.client.close();
    }
    assert.equal(hub.client(session)?.conn, null, 'still waiting for its owner');
    // the owner resumes; the secret it used is spent, the new welcome carries the next one
    const back = await connectClient(daemon.wsUrl, { service: 'victim-svc', resume: session, resumeSecret: owner.welcome.resumeSecret! });
    assert.equal(back.welcome.resumed, true);
    assert.notEqual(back.welcome.resumeSecret, owner.welcome.resumeSecret);
    await back.client.close();
    await eventually(() => hub.client(session)?.conn === null, 'detached again');
    const stale = await connectClient(daemon.wsUrl, { service: 'victim-svc', resume: session, resumeSecret: owner.welcome.resumeSecret! });
    assert.equal(stale.welcome.resumed, false, 'an earlier secret no longer works');
    await stale.client.close();
  });

  it('after the grace period the client and its holds are gone', async () => {
    const short = await startTestDaemon({ disconnectGraceMs: 20 });
    try {
      const { client, welcome } = await connectClient(short.wsUrl);
      client.send({ type: 'events', seq: 1, events: [ev.mutex('m'), ev.owner('a'), ev.hold('a', 'm')] });
      await client.barrier();
      await client.close();
      await eventually(() => short.app.deadlockd.hub.client(welcome.session) === undefined, 'client removed');
      assert.equal(short.app.deadlockd.hub.namespace().engine.stats().holds, 0);
      const again = await connectClient(short.wsUrl, { resume: welcome.session });
      assert.equal(again.welcome.resumed, false);
      await again.client.close();
    } finally {
      await short.close();
    }
  });
});

// A victim that never carries out its abort must not hold the deadlock forever: past the
// abort's `expiresAt` (plus the margin for a cancel in flight) the deadlock is chosen again
// without that owner; a client that answers `expired` makes that happen at once.
describe('abort deadlines re-decide', () => {
  const crossed = crossedPair();

  /** A daemon of its own with these abort deadlines, and a client whose crossed pair got its first abort. */
  async function firstAbort(
    opts: { abortTimeoutMs: number; abortAnswerMarginMs?: number },
    body: (s: { ns: () => Namespace; client: TestClient; first: AbortFrame }) => Promise<void>,
  ): Promise<void> {
    const daemon = await startTestDaemon({ disconnectGraceMs: 0, ...opts });
    try {
      const { client } = await connectClient(daemon.wsUrl);
      client.send({ type: 'events', seq: 1, events: crossed });
      const first = await client.next('abort');
      await body({ ns: () => daemon.app.deadlockd.hub.namespace(), client, first });
      await client.close();
    } finally {
      await daemon.close();
    }
  }

  it('an abort not carried out in time: the same deadlock, the other member, one abort each', () =>
    firstAbort({ abortTimeoutMs: 300, abortAnswerMarginMs: 200 }, async ({ ns, client, first }) => {
      assert.equal(first.owner, 'a', 'lowest priority first');
      assert.ok(first.expiresAt! >= Date.now() - 5_000 && first.expiresAt! <= Date.now() + 5_000, 'expiresAt on the daemon clock');
      // the client stays silent: after the deadline the other member is aborted, for the same deadlock
      const second = await client.next('abort');
      assert.equal(second.deadlock, first.deadlock);
      assert.equal(second.owner, 'b');
      assert.equal(second.waitId, 'wb');
      assert.equal(ns().resolverStats().abortTimeouts, 1);
      assert.equal(ns().current()[0]?.status, 'aborting');
      // b unwinds; a's late refusal changes nothing
      client.send({ type: 'events', seq: 2, events: [ev.cancel('wb')] });
      client.send({ type: 'abort_result', deadlock: first.deadlock, waitId: 'wa', result: 'expired' });
      await client.barrier();
      assert.equal(ns().history.get(first.deadlock)?.status, 'resolved');
      assert.equal(client.queued('abort').length, 0, 'no third abort');
      assert.equal(ns().resolverStats().abortsSent, 2);
    }));

  it('an `expired` answer re-decides at once, long before the deadline', () =>
    firstAbort({ abortTimeoutMs: 600_000 }, async ({ client, first }) => {
      client.send({ type: 'abort_result', deadlock: first.deadlock, waitId: first.waitId, result: 'expired' });
      const second = await client.next('abort');
      assert.equal(second.deadlock, first.deadlock);
      assert.equal(second.owner, 'b');
    }));

  it('when every member has missed its deadline the deadlock is reported unresolvable, never aborted twice', () =>
    firstAbort({ abortTimeoutMs: 600_000 }, async ({ ns, client, first }) => {
      client.send({ type: 'abort_result', deadlock: first.deadlock, waitId: first.waitId, result: 'expired' });
      const second = await client.next('abort');
      client.send({ type: 'abort_result', deadlock: second.deadlock, waitId: second.waitId, result: 'expired' });
      await eventually(() => ns().current()[0]?.status === 'unresolvable', 'unresolvable');
      await client.barrier();
      assert.equal(client.queued('abort').length, 0);
      assert.equal(ns().history.get(first.deadlock)?.status, 'unresolvable');
    }));
});
