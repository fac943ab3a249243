// What an app sees from an abort — and when it must see none:
// - re-locking a mutex the task already holds fails fast with DeadlockError;
// - waiting behind a holder that is running (just slow) is never aborted;
// - DeadlockError carries the deadlock id and a report naming both owners
//   and both resources.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlockError } from '@deadlockd/client';
import type { DeadlockReport } from '@deadlockd/proto';
import { Barrier } from '../src/barrier.js';
import { startWatchedSession, type WatchedSession } from '../src/watched-session.js';
import { sleep, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';

const T = TEST_TIMEOUT;

describe('aborts seen by the app', () => {
  let s: WatchedSession;
  const deadlockEvents: DeadlockReport[] = [];
  before(async () => {
    s = await startWatchedSession('abort-semantics');
    s.dd.on('deadlock', (report: DeadlockReport) => deadlockEvents.push(report));
  });
  after(async () => {
    await s?.close();
  });

  test('re-locking a held mutex inside a task fails fast with DeadlockError', T, async () => {
    const m = s.dd.mutex('self:relock');
    const relock = s.dd.task('relocker', async () => {
      const h = await m.acquire();
      try {
        await m.acquire(); // not re-entrant: this owner waits for itself
      } finally {
        h.release();
      }
    });
    await assert.rejects(
      within(STEP_MS, 'the self re-lock to be aborted', relock, () => s.daemon.logs()),
      (e: unknown) => {
        assert.ok(e instanceof DeadlockError, `expected DeadlockError, got ${String(e)}`);
        assert.equal(e.code, 'DEADLOCK');
        return true;
      },
    );
    // the finally released it: the mutex is free for the next task
    await within(STEP_MS, 'the mutex to be free after the abort', s.dd.task('after relock', async () => {
      (await m.acquire()).release();
    }));
  });

  test('a long wait behind a running holder is never aborted', T, async () => {
    const m = s.dd.mutex('slow:holder');
    const held = new Barrier(2);
    const errors: unknown[] = [];
    const holder = s.dd.task('slow holder', async () => {
      const h = await m.acquire();
      await held.wait();
      await sleep(1_500); // running, just slow: not a deadlock
      h.release();
    });
    await held.wait();
    const waiters = [1, 2, 3].map((i) =>
      s.dd
        .task(`patient waiter ${i}`, async () => {
          (await m.acquire()).release();
        })
        .catch((e: unknown) => errors.push(e)),
    );
    await within(STEP_MS, 'the holder and its waiters to finish', Promise.all([holder, ...waiters]), () => s.daemon.logs());
    assert.deepEqual(errors, [], 'no waiter was aborted');
    // other tests' deadlocks may be reported late; none may involve these owners
    const involved = deadlockEvents.filter((r) => r.members.some((m) => /slow holder|patient waiter/.test(m.name)));
    assert.deepEqual(involved.map((r) => r.text), [], 'the daemon reported no deadlock among them');
  });

  test('DeadlockError carries the deadlock id and a report naming both owners and both resources', T, async () => {
    const alice = s.dd.mutex('account:alice');
    const bob = s.dd.mutex('account:bob');
    const barrier = new Barrier(2);
    const transfer = (name: string, first: typeof alice, second: typeof alice) =>
      s.dd.task(name, async () => {
        const h1 = await first.acquire();
        try {
          await barrier.wait();
          const h2 = await second.acquire();
          h2.release();
        } finally {
          h1.release();
        }
      });
    const results = await within(
      STEP_MS,
      'one of the two crossed transfers to be aborted',
      Promise.allSettled([transfer('alice pays bob', alice, bob), transfer('bob pays alice', bob, alice)]),
      () => s.daemon.logs(),
    );
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.equal(rejected.length, 1, 'exactly one of the two was aborted, the other completed');
    const err: unknown = rejected[0]!.reason;
    assert.ok(err instanceof DeadlockError, `expected DeadlockError, got ${String(err)}`);
    assert.equal(err.name, 'DeadlockError');
    assert.equal(err.code, 'DEADLOCK');
    assert.equal(typeof err.deadlockId, 'string');
    assert.ok(err.deadlockId.length > 0);
    assert.equal(err.report.id, err.deadlockId);
    assert.ok(err.message.startsWith(`deadlock detected (${err.deadlockId})`), err.message);
    assert.equal(err.report.members.length, 2, err.report.text);
    assert.equal(err.report.resolution, 'aborting');
    assert.ok(err.report.victim, 'the report names its victim');
    for (const expected of ['alice pays bob', 'bob pays alice', 'account:alice', 'account:bob']) {
      assert.ok(err.report.text.includes(expected), `report text names ${expected}:\n${err.report.text}`);
    }
  });
});
