// The daemon's questions and notices: abort, confirm, deadlock, error — and resource() aborts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeadlockReport } from '@deadlockd/proto';
import { DeadlockError, type Held } from '../src/index.js';
import { FakeDaemon, IMMEDIATE, report, sdkFixture, sleep, waitUntil } from './fake-daemon.js';

const { setup } = sdkFixture({ service: 'frames', ...IMMEDIATE });

function waitIdOf(d: FakeDaemon, ownerName: string): string {
  const owner = d.events().find((e) => e.type === 'owner' && e.name === ownerName);
  const wait = d.events().find((e) => e.type === 'wait' && owner?.type === 'owner' && e.owner === owner.owner);
  assert.ok(wait && wait.type === 'wait', `a wait of ${ownerName}`);
  return wait.waitId;
}

function ownerIdOf(d: FakeDaemon, name: string): string {
  const owner = d.events().find((e) => e.type === 'owner' && e.name === name);
  assert.ok(owner && owner.type === 'owner');
  return owner.owner;
}

describe('abort', () => {
  it('rejects exactly that wait with DeadlockError, sends cancel, then abort_result aborted', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('acct');
    const holder = await m.acquire();
    const victim = dd.task('victim', () => m.acquire());
    const other = dd.task('other', () => m.acquire());
    await daemon.waitFor(() => daemon.facts().filter((e) => e.type === 'wait').length === 2, 'two waits');
    const waitId = waitIdOf(daemon, 'victim');
    const rep = report('d1', 'victim <-> holder');
    daemon.send({ type: 'abort', deadlock: 'd1', owner: ownerIdOf(daemon, 'victim'), waitId, report: rep });
    const err = await victim.then(
      () => assert.fail('the victim must be rejected'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DeadlockError);
    assert.equal(err.name, 'DeadlockError');
    assert.equal(err.code, 'DEADLOCK');
    assert.equal(err.deadlockId, 'd1');
    assert.deepEqual(err.report, rep);
    assert.equal(err.message, 'deadlock detected (d1)\nvictim <-> holder');
    await daemon.waitFor(() => daemon.ofType('abort_result').length === 1, 'abort_result');
    assert.deepEqual(daemon.ofType('abort_result')[0], { type: 'abort_result', deadlock: 'd1', waitId, result: 'aborted' });
    // the cancel arrived in an events frame before the answer
    const kinds = daemon.frames.map((r) => r.frame);
    const cancelAt = kinds.findIndex((f) => f.type === 'events' && f.events.some((e) => e.type === 'cancel'));
    const answerAt = kinds.findIndex((f) => f.type === 'abort_result');
    assert.ok(cancelAt >= 0 && cancelAt < answerAt);
    assert.deepEqual(daemon.facts().find((e) => e.type === 'cancel'), { type: 'cancel', waitId, reason: 'deadlock' });
    // the other waiter is untouched and gets the mutex next
    assert.equal(m.waiting, 1);
    holder.release();
    const o = await other;
    assert.equal(m.locked, true);
    o.release();
  });

  it('answers after the DeadlockError was handled: what the handler released goes with the cancel, and a confirm behind the abort is answered after it', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('acct');
    const other = dd.mutex('other');
    const holder = await m.acquire();
    const victim = dd.task('victim', async () => {
      const o = await other.acquire();
      try {
        await m.acquire();
      } finally {
        o.release(); // in the rejection's handler: the same turn as the abort
      }
    });
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'wait'), 'the wait');
    const waitId = waitIdOf(daemon, 'victim');
    daemon.send({ type: 'abort', deadlock: 'd1', owner: ownerIdOf(daemon, 'victim'), waitId, report: report('d1') });
    daemon.send({ type: 'confirm', check: 'c-behind', waits: [waitId] });
    await assert.rejects(victim, DeadlockError);
    await daemon.waitFor(() => daemon.ofType('confirm_result').length === 1, 'confirm_result');
    const order = daemon.frames.map((r) => r.frame.type).filter((t) => t === 'abort_result' || t === 'confirm_result');
    assert.deepEqual(order, ['abort_result', 'confirm_result'], 'answers in the order of the questions');
    assert.deepEqual(daemon.ofType('confirm_result')[0]?.pending, []);
    const withCancel = daemon.ofType('events').find((f) => f.events.some((e) => e.type === 'cancel'));
    assert.ok(withCancel, 'a frame with the cancel');
    const kinds = withCancel.events.map((e) => `${e.type}${'resource' in e && e.resource !== undefined ? `:${e.resource}` : ''}`);
    const cancelAt = kinds.indexOf('cancel');
    assert.ok(cancelAt >= 0 && kinds.slice(cancelAt).includes('release:other'), `the handler's release goes with the cancel: ${kinds.join(' ')}`);
    holder.release();
  });

  it('ignores an abort that does not match its schema and a frame of an unknown type; the wait stays pending', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('acct');
    const holder = await m.acquire();
    let settled = false;
    const victim = dd.task('victim', () => m.acquire()).finally(() => (settled = true));
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'wait'), 'the wait');
    const waitId = waitIdOf(daemon, 'victim');
    const owner = ownerIdOf(daemon, 'victim');
    // checked against the abort's own schema: a report without its text is no abort
    const { text: _text, ...noText } = report('d-bad', 'x');
    daemon.send({ type: 'abort', deadlock: 'd-bad', owner, waitId, report: noText });
    daemon.send({ type: 'abort', deadlock: 'd-bad', owner, waitId: 42, report: report('d-bad', 'x') });
    daemon.send({ type: 'no-such-frame', waitId });
    // a confirm round answered after them proves they were read (one connection, in order)
    daemon.send({ type: 'confirm', check: 'c-after', waits: [waitId] });
    await daemon.waitFor(() => daemon.ofType('confirm_result').length === 1, 'confirm_result');
    assert.deepEqual(daemon.ofType('confirm_result')[0], { type: 'confirm_result', check: 'c-after', pending: [waitId] });
    assert.equal(daemon.ofType('abort_result').length, 0, 'no answer to a frame that is not one');
    assert.equal(settled, false, 'the wait is still pending');
    daemon.send({ type: 'abort', deadlock: 'd-ok', owner, waitId, report: report('d-ok', 'x') });
    await assert.rejects(victim, DeadlockError);
    holder.release();
  });

  it('answers stale for an unknown wait and for a wait that already ended', async () => {
    const { daemon, dd } = await setup();
    daemon.send({ type: 'abort', deadlock: 'd2', owner: 'main', waitId: 'w999', report: report('d2') });
    await daemon.waitFor(() => daemon.ofType('abort_result').length === 1, 'stale answer');
    assert.equal(daemon.ofType('abort_result')[0]?.result, 'stale');

    const m = dd.mutex('ended');
    const h = await m.acquire();
    const waiter = dd.task('granted', () => m.acquire());
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'wait'), 'wait');
    const waitId = waitIdOf(daemon, 'granted');
    h.release();
    const got: Held = await waiter;
    daemon.send({ type: 'abort', deadlock: 'd3', owner: ownerIdOf(daemon, 'granted'), waitId, report: report('d3') });
    await daemon.waitFor(() => daemon.ofType('abort_result').length === 2, 'second answer');
    assert.deepEqual(daemon.ofType('abort_result')[1], { type: 'abort_result', deadlock: 'd3', waitId, result: 'stale' });
    // the grant was flushed before the answer
    const frames = daemon.frames.map((r) => r.frame);
    const grantAt = frames.findIndex((f) => f.type === 'events' && f.events.some((e) => e.type === 'grant'));
    assert.ok(grantAt >= 0 && grantAt < frames.lastIndexOf(daemon.ofType('abort_result')[1]!));
    got.release();
  });

  it('retryOnDeadlock retries the aborted task until it completes', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('retry');
    const h = await m.acquire();
    let attempts = 0;
    const work = dd.retryOnDeadlock(() =>
      dd.task('worker', async () => {
        attempts++;
        const x = await m.acquire();
        x.release();
        return 'done';
      }),
    );
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'wait'), 'wait');
    daemon.send({ type: 'abort', deadlock: 'd4', owner: ownerIdOf(daemon, 'worker'), waitId: waitIdOf(daemon, 'worker'), report: report('d4') });
    await daemon.waitFor(() => daemon.ofType('abort_result').length === 1, 'answer');
    // the retry runs while m is still held: its wait reaches the daemon
    await daemon.waitFor(() => attempts === 2 && daemon.facts().filter((e) => e.type === 'wait').length === 2, 'the retry to wait again');
    h.release();
    assert.equal(await work, 'done');
    assert.equal(attempts, 2);
  });
});

describe('confirm', () => {
  it('flushes first, then answers with the asked waits that are still pending', async () => {
    const { daemon, dd } = await setup({ flushIntervalMs: 10_000 }); // nothing would flush on its own
    const m = dd.mutex('cf');
    const h = await m.acquire();
    const p1 = dd.task('p1', () => m.acquire());
    const p2 = dd.task('p2', () => m.acquire({ timeoutMs: 20 }));
    await assert.rejects(p2);
    await sleep(30); // an observation window (nothing is due in it): still nothing flushed
    assert.deepEqual(daemon.ofType('events'), []);
    daemon.send({ type: 'confirm', check: 'c1', waits: ['w1', 'w2', 'w77'] });
    await daemon.waitFor(() => daemon.ofType('confirm_result').length === 1, 'confirm_result');
    const frames = daemon.frames.map((r) => r.frame);
    const evAt = frames.findIndex((f) => f.type === 'events');
    const resAt = frames.findIndex((f) => f.type === 'confirm_result');
    assert.ok(evAt >= 0 && evAt < resAt, 'the buffered events come first');
    // the events frame holds the hold and the one pending wait (the timed-out one never left)
    assert.deepEqual(daemon.facts().map((e) => e.type), ['hold', 'wait']);
    const pendingId = waitIdOf(daemon, 'p1');
    assert.deepEqual(daemon.ofType('confirm_result')[0], { type: 'confirm_result', check: 'c1', pending: [pendingId] });
    h.release();
    (await p1).release();
  });
});

describe('deadlock and error notices', () => {
  it("emits 'deadlock' and logs daemon errors as warnings", async () => {
    const { daemon, dd, logger } = await setup();
    const seen: DeadlockReport[] = [];
    dd.on('deadlock', (r) => seen.push(r));
    daemon.send({ type: 'deadlock', report: report('d9', 'unresolvable') });
    daemon.send({ type: 'error', code: 'NOT_HELD', message: 'nope', fatal: false });
    await daemon.waitFor(() => seen.length === 1 && logger.warnings.length === 1, 'notices');
    assert.equal(seen[0]?.id, 'd9');
    assert.match(logger.warnings[0] ?? '', /NOT_HELD.*nope/);
  });
});

describe('a deadlock notice nobody listens to', () => {
  it('is dropped before its schema check; a listener added later gets the next one, and frames after it still count', async () => {
    const { daemon, dd, logger } = await setup();
    // malformed on purpose: with no listener it is never checked, and it harms nothing after it
    daemon.send({ type: 'deadlock', report: { id: 'bad' } });
    daemon.send({ type: 'deadlock', report: report('d1', 'nobody listened') });
    const seen: DeadlockReport[] = [];
    daemon.send({ type: 'error', code: 'NOT_HELD', message: 'after the first two', fatal: false });
    await daemon.waitFor(() => logger.warnings.length === 1, 'the error frame behind the dropped notices');
    dd.on('deadlock', (r) => seen.push(r));
    daemon.send({ type: 'deadlock', report: report('d2', 'listened to') });
    await daemon.waitFor(() => seen.length === 1, 'the notice sent while a listener is there');
    assert.deepEqual(seen.map((r) => r.id), ['d2']);
    assert.match(logger.warnings[0] ?? '', /after the first two/);
  });
});

describe('resource()', () => {
  it('reports a global resource: wait while fn runs, grant, release', async () => {
    const { daemon, dd } = await setup();
    const r = dd.resource('redis:lock:order:7');
    const held = await r.acquire(async (signal) => {
      assert.equal(signal.aborted, false);
      await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'wait'), 'the wait to be reported while fn runs');
      return 'token-1';
    });
    assert.equal(held.value, 'token-1');
    held.release();
    await daemon.waitFor(() => daemon.facts().length === 3, 'wait, grant, release');
    assert.deepEqual(daemon.facts().map((e) => e.type), ['wait', 'grant', 'release']);
    assert.deepEqual(daemon.events().find((e) => e.type === 'resource'), {
      type: 'resource', resource: 'redis:lock:order:7', kind: 'mutex', scope: 'global', fifo: false,
    });
    assert.throws(() => held.release(), (e: unknown) => (e as { code?: string }).code === 'ERR_NOT_HELD');
  });

  it('abort fires the signal with the DeadlockError, rejects at once, and disposes a late value', async () => {
    const { daemon, dd } = await setup();
    const r = dd.resource('lock:late');
    let seenReason: unknown;
    let deliver!: (v: string) => void;
    const disposed: string[] = [];
    const acquiring = dd.task('res-victim', () =>
      r.acquire(
        (signal) => {
          signal.addEventListener('abort', () => (seenReason = signal.reason));
          // a lock client that ignores the signal and delivers the lock anyway, later
          return new Promise<string>((resolve) => (deliver = resolve));
        },
        { dispose: (v) => void disposed.push(v) },
      ),
    );
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'wait'), 'wait');
    daemon.send({
      type: 'abort', deadlock: 'd5', owner: ownerIdOf(daemon, 'res-victim'),
      waitId: waitIdOf(daemon, 'res-victim'), report: report('d5'),
    });
    const err = await acquiring.then(() => assert.fail('must reject'), (e: unknown) => e);
    assert.ok(err instanceof DeadlockError);
    assert.equal(seenReason, err, 'the signal aborts with the DeadlockError');
    deliver('late-lock');
    await waitUntil(() => disposed.length > 0, 'the late value to be disposed');
    assert.deepEqual(disposed, ['late-lock']);
    await daemon.waitFor(() => daemon.ofType('abort_result').length === 1, 'answer');
    assert.equal(daemon.ofType('abort_result')[0]?.result, 'aborted');
  });

  it('a failing fn rejects acquire with its error and cancels the reported wait', async () => {
    const { daemon, dd } = await setup();
    const r = dd.resource('lock:fail');
    await assert.rejects(
      r.acquire(async () => {
        await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'wait'), 'the wait to be reported while fn runs');
        throw new Error('lock service down');
      }),
      /lock service down/,
    );
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'cancel'), 'cancel');
    assert.equal((daemon.facts().find((e) => e.type === 'cancel') as { reason?: string }).reason, 'error');
  });
});
