// lockdep-style hazards from the SDK against a real daemon, at concurrency 1: an rwlock upgrade,
// a recursive read on a writer-fair rwlock, and two locks of one class nested.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Hazard } from '@deadlockd/client';
import { startWatchedSession, type WatchedSession } from '../src/watched-session.js';
import { until } from '../src/timing.js';

describe('rwlock and lock-class hazards, the first time', () => {
  let s: WatchedSession;
  const hazards: Hazard[] = [];
  before(async () => {
    s = await startWatchedSession('hazards');
    s.dd.on('hazard', (h: Hazard) => hazards.push(h));
  });
  after(async () => {
    await s?.close();
  });
  const announced = (kind: Hazard['kind']) => until(15_000, `a ${kind} hazard`, async () => hazards.find((h) => h.kind === kind));

  test('one task reads then upgrades: rwlock-upgrade', { timeout: 30_000 }, async () => {
    const rw = s.dd.rwlock('hz:cfg');
    await s.dd.task('upgrader', async () => {
      const r = await rw.acquire('shared');
      const w = await rw.acquire('exclusive'); // alone: granted, but two of these deadlock
      w.release();
      r.release();
    });
    const h = await announced('rwlock-upgrade');
    assert.deepEqual(h.classes, ['hazards:hz:cfg']);
    assert.match(h.text, /task 'upgrader' asked for hazards:hz:cfg exclusive while holding it shared/);
  });

  test('one task reads twice: recursive-read (a reentrant rwlock is exempt)', { timeout: 30_000 }, async () => {
    for (const [name, reentrant] of [['hz:re', true], ['hz:fair', false]] as const) {
      const rw = s.dd.rwlock(name, { reentrant });
      await s.dd.task('reader', async () => {
        const a = await rw.acquire('shared');
        const b = await rw.acquire('shared');
        b.release();
        a.release();
      });
    }
    const h = await announced('recursive-read');
    assert.deepEqual(h.classes, ['hazards:hz:fair']);
    assert.ok(!hazards.some((x) => x.classes.includes('hazards:hz:re')), 'no hazard for the reentrant rwlock');
  });

  test('one transfer nests two accounts of class account: same-class-nesting, before any opposite transfer', { timeout: 30_000 }, async () => {
    const acct = (id: number) => s.dd.mutex(`hz:account:${id}`, { class: 'account' });
    await s.dd.task('transfer 1->2', async () => {
      const a = await acct(1).acquire();
      const b = await acct(2).acquire();
      b.release();
      a.release();
    });
    const h = await announced('same-class-nesting');
    assert.deepEqual(h.classes, ['hazards:account']);
    assert.match(h.text, /hz:account:1 then hz:account:2/);
  });
});
