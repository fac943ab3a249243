// PostgreSQL's isolation specs for deadlocks (src/test/isolation/specs: deadlock-simple,
// deadlock-hard, deadlock-soft, deadlock-soft-2, deadlock-parallel), ported to the SDK's
// process-local primitives against a real daemon, each checked against the outcome in
// PostgreSQL's expected output (src/test/isolation/expected/*.out).
//
// Mapping: a table is an rwlock (ACCESS SHARE = shared, ACCESS EXCLUSIVE = exclusive), or a
// mutex when only a self-conflicting mode is used on it (SHARE UPDATE EXCLUSIVE on a1 in
// deadlock-soft-2); SHARE UPDATE EXCLUSIVE on a2 there conflicts only with ACCESS EXCLUSIVE,
// which is what `shared` does. A session is a task; a parallel query's workers are tasks its
// session joins. A step that blocks is "<waiting ...>"; "<... completed>" is awaited.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client, DeadlockReport, RWLock } from '@deadlockd/client';
import { Session, type Step } from '../src/isolation-session.js';
import { assertSweepMissedNothing } from '../src/prom-metrics.js';
import { startWatchedSession, type WatchedSession } from '../src/watched-session.js';
import { until, within } from '../src/timing.js';

const HANG_MS = 20_000;

describe('PostgreSQL isolation specs for deadlocks', () => {
  let s: WatchedSession;
  let reports: DeadlockReport[] = [];
  before(async () => {
    s = await startWatchedSession('pg-isolation');
    s.dd.on('deadlock', (r: DeadlockReport) => reports.push(r));
  });
  after(async () => {
    await s?.close();
  });

  let spec = 0;
  /** fresh lock names per spec */
  const rw = (dd: Client, name: string): RWLock => dd.rwlock(`spec${spec}:${name}`);
  const begin = (...names: string[]) => {
    spec++;
    reports = [];
    return names.map((n) => new Session(s.dd, n));
  };
  const lock = (l: { acquire(mode?: never): Promise<import('@deadlockd/client').Held> } | RWLock, mode?: 'shared' | 'exclusive') => async (x: Session) => {
    x.held.push(mode ? await (l as RWLock).acquire(mode) : await (l as { acquire(): Promise<import('@deadlockd/client').Held> }).acquire());
  };
  const completes = async (st: Step) => {
    const o = await within(HANG_MS, `step ${st.label} to complete`, st.outcome, () => s.daemon.logs());
    assert.equal(o, 'completed', `step ${st.label}: ${o === 'completed' ? '' : o.message}`);
  };
  /** the resolutions of this spec's deadlocks, once the daemon's `deadlock` frames arrived (they follow the `reorder`) */
  const resolutions = async () => {
    const mine = () => reports.filter((r) => r.text.includes(`spec${spec}:`));
    await until(HANG_MS, 'the deadlock report', async () => (mine().length > 0 ? true : undefined));
    return mine().map((r) => r.resolution);
  };
  const waiting = (st: Step) => assert.equal(st.settled, false, `step ${st.label} is <waiting ...>`);
  const done = (st: Step) => assert.equal(st.settled, true, `step ${st.label} completed at once`);

  test('deadlock-simple: two upgrades of a1; the second gets "deadlock detected", the first completes', { timeout: 60_000 }, async () => {
    const [s1, s2] = begin('s1', 's2') as [Session, Session];
    const a1 = rw(s.dd, 'a1');
    done(await s1.issue('s1as', lock(a1, 'shared')));
    done(await s2.issue('s2as', lock(a1, 'shared')));
    const s1ae = await s1.issue('s1ae', lock(a1, 'exclusive'));
    waiting(s1ae);
    const s2ae = await s2.issue('s2ae', lock(a1, 'exclusive'));
    const err = await within(HANG_MS, 's2ae to fail', s2ae.outcome);
    assert.notEqual(err, 'completed', 'ERROR:  deadlock detected');
    await completes(s1ae);
    await s1.commit();
    await s2.commit();
  });

  test('deadlock-hard: an 8-session ring; s8a1 gets "deadlock detected", the rest complete in reverse', { timeout: 60_000 }, async () => {
    const ss = begin('s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8');
    const a = Array.from({ length: 8 }, (_, i) => s.dd.mutex(`spec${spec}:a${i + 1}`));
    for (let i = 0; i < 8; i++) done(await ss[i]!.issue(`s${i + 1}a${i + 1}`, lock(a[i]!)));
    const second: Step[] = [];
    for (let i = 0; i < 7; i++) {
      second.push(await ss[i]!.issue(`s${i + 1}a${i + 2}`, lock(a[i + 1]!)));
      waiting(second[i]!);
    }
    const s8a1 = await ss[7]!.issue('s8a1', lock(a[0]!));
    const err = await within(HANG_MS, 's8a1 to fail', s8a1.outcome);
    assert.notEqual(err, 'completed', 'error in steps s8a1 s7a8: ERROR:  deadlock detected');
    await completes(second[6]!); // s7a8 <... completed>
    await ss[7]!.commit();
    for (let i = 6; i >= 0; i--) {
      await ss[i]!.commit();
      if (i > 0) await completes(second[i - 1]!);
    }
  });

  test('deadlock-soft: two hard and two soft edges; no error: d1a2 jumps ahead of e2l', { timeout: 60_000 }, async () => {
    const [d1, d2, e1, e2] = begin('d1', 'd2', 'e1', 'e2') as [Session, Session, Session, Session];
    const a1 = rw(s.dd, 'a1');
    const a2 = rw(s.dd, 'a2');
    done(await d1.issue('d1a1', lock(a1, 'shared')));
    done(await d2.issue('d2a2', lock(a2, 'shared')));
    const e1l = await e1.issue('e1l', lock(a1, 'exclusive'));
    const e2l = await e2.issue('e2l', lock(a2, 'exclusive'));
    const d1a2 = await d1.issue('d1a2', lock(a2, 'shared'));
    [e1l, e2l, d1a2].forEach(waiting);
    const d2a1 = await d2.issue('d2a1', lock(a1, 'shared'));
    waiting(d2a1);
    await completes(d1a2);
    await d1.commit();
    await completes(e1l);
    await e1.commit();
    await completes(d2a1);
    await d2.commit();
    await completes(e2l);
    await e2.commit();
    assert.deepEqual(await resolutions(), ['reordering'], 'one deadlock, resolved without an abort');
  });

  test('deadlock-soft-2: s1 jumps over both s3 and s4 on a2; no error', { timeout: 60_000 }, async () => {
    const [s1, s2, s3, s4] = begin('s1', 's2', 's3', 's4') as [Session, Session, Session, Session];
    const a1 = s.dd.mutex(`spec${spec}:a1`);
    const a2 = rw(s.dd, 'a2');
    done(await s1.issue('s1a', lock(a1)));
    done(await s2.issue('s2a', lock(a2, 'shared')));
    const s2b = await s2.issue('s2b', lock(a1));
    const s3a = await s3.issue('s3a', lock(a2, 'exclusive'));
    const s4a = await s4.issue('s4a', lock(a2, 'exclusive'));
    [s2b, s3a, s4a].forEach(waiting);
    const s1b = await s1.issue('s1b', lock(a2, 'shared'));
    await completes(s1b);
    await s1.commit();
    await completes(s2b);
    await s2.commit();
    await completes(s3a);
    await s3.commit();
    await completes(s4a);
    await s4.commit();
    assert.deepEqual(await resolutions(), ['reordering']);
  });

  test('deadlock-parallel: the soft deadlock through parallel workers; no error, d1 first', { timeout: 60_000 }, async () => {
    const [d1, d2, e1, e2] = begin('d1', 'd2', 'e1', 'e2') as [Session, Session, Session, Session];
    const [l1, l2, l3] = [rw(s.dd, 'lock1'), rw(s.dd, 'lock2'), rw(s.dd, 'lock3')];
    /** a parallel query: 3 workers each take `l` shared (released when the worker exits); the leader joins them */
    const parallel = (l: RWLock, name: string) => async (x: Session) => {
      const workers = [1, 2, 3].map((i) => x.dd.spawn(`${name} worker ${i}`, async () => (await l.acquire('shared')).release()));
      await Promise.all(workers.map((w) => w.join()));
    };
    done(await d1.issue('d1a1', async (x) => {
      await lock(l1, 'shared')(x);
      await lock(l3, 'exclusive')(x);
    }));
    done(await d2.issue('d2a2', lock(l2, 'shared')));
    // e1l, e2l: taken in a parallel worker that exits after the statement (its lock goes with it)
    const inWorker = (l: RWLock, name: string) => async (x: Session) => {
      await x.dd.spawn(`${name} worker`, async () => (await l.acquire('exclusive')).release()).join();
    };
    const e1l = await e1.issue('e1l', inWorker(l1, 'e1l'));
    const e2l = await e2.issue('e2l', inWorker(l2, 'e2l'));
    const d1a2 = await d1.issue('d1a2', parallel(l2, 'd1a2'));
    [e1l, e2l, d1a2].forEach(waiting);
    const d2a1 = await d2.issue('d2a1', async (x) => {
      await parallel(l1, 'd2a1')(x);
      await lock(l3, 'shared')(x);
    });
    waiting(d2a1);
    await completes(d1a2);
    await d1.commit();
    await completes(e1l);
    await completes(d2a1);
    await e1.commit();
    await d2.commit();
    await completes(e2l);
    await e2.commit();
    const all = await resolutions();
    assert.ok(all.every((r) => r === 'reordering'), JSON.stringify(all));
  });

  test('the safety-net sweep found nothing the incremental detection missed', { timeout: 30_000 }, () => assertSweepMissedNothing(s.daemon.httpUrl, () => s.daemon.logs()));
});
