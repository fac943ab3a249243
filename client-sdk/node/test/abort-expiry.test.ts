// An abort carries `expiresAt` on the daemon's clock; past it the daemon re-decides the
// deadlock without this owner, so the SDK must not carry a late abort out (that would
// abort two owners for one deadlock). The SDK bounds the daemon's clock from above with
// welcome.serverTime plus the time since it sent hello.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IMMEDIATE, report, sdkFixture } from './fake-daemon.js';

const { setup } = sdkFixture({ service: 'expiry', ...IMMEDIATE });

async function blockedTask(d: Awaited<ReturnType<typeof setup>>) {
  const m = d.dd.mutex('acct');
  const holder = await m.acquire();
  let settled: 'pending' | 'rejected' | 'resolved' = 'pending';
  const victim = d.dd.task('victim', () => m.acquire());
  victim.then(
    (h) => {
      settled = 'resolved';
      h.release();
    },
    () => (settled = 'rejected'),
  );
  await d.daemon.waitFor(() => d.daemon.facts().some((e) => e.type === 'wait'), 'the wait is reported');
  const wait = d.daemon.facts().find((e) => e.type === 'wait');
  assert.ok(wait && wait.type === 'wait');
  return { holder, waitId: wait.waitId, owner: wait.owner, state: () => settled, victim };
}

describe('abort expiry', () => {
  it('an abort past its expiresAt is refused with `expired`, and the wait goes on', async () => {
    const d = await setup({}, { serverTime: () => 1_000_000 });
    const t = await blockedTask(d);
    // the daemon's clock is at least 1_000_000 now; an abort that expired at 999_000 is late
    d.daemon.send({ type: 'abort', deadlock: 'd1', owner: t.owner, waitId: t.waitId, report: report('d1'), expiresAt: 999_000 });
    await d.daemon.waitFor(() => d.daemon.ofType('abort_result').length === 1, 'an answer');
    assert.deepEqual(d.daemon.ofType('abort_result')[0], { type: 'abort_result', deadlock: 'd1', waitId: t.waitId, result: 'expired' });
    assert.equal(t.state(), 'pending', 'the wait is not rejected');
    assert.equal(d.daemon.facts().filter((e) => e.type === 'cancel').length, 0, 'no cancel sent');
    t.holder.release();
    await t.victim;
    assert.equal(t.state(), 'resolved', 'it gets the lock in the end');
  });

  it('an abort before its expiresAt is carried out', async () => {
    const d = await setup({}, { serverTime: () => 1_000_000 });
    const t = await blockedTask(d);
    // an hour of room: however slow this machine, the bound cannot pass it
    d.daemon.send({ type: 'abort', deadlock: 'd2', owner: t.owner, waitId: t.waitId, report: report('d2'), expiresAt: 1_000_000 + 3_600_000 });
    await d.daemon.waitFor(() => d.daemon.ofType('abort_result').length === 1, 'an answer');
    assert.equal(d.daemon.ofType('abort_result')[0]?.result, 'aborted');
    await assert.rejects(t.victim, { name: 'DeadlockError' });
    t.holder.release();
  });

  it('a daemon that does not say its time: the abort is carried out (no bound to judge by)', async () => {
    const d = await setup();
    const t = await blockedTask(d);
    d.daemon.send({ type: 'abort', deadlock: 'd3', owner: t.owner, waitId: t.waitId, report: report('d3'), expiresAt: 1 });
    await d.daemon.waitFor(() => d.daemon.ofType('abort_result').length === 1, 'an answer');
    assert.equal(d.daemon.ofType('abort_result')[0]?.result, 'aborted');
    await assert.rejects(t.victim, { name: 'DeadlockError' });
    t.holder.release();
  });
});
