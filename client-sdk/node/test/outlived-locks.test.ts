// A lock that outlives its task (the handle returned out of task(), an acquire
// never awaited) stops being reported when the task ends: the daemon drops the
// owner with `end`. The SDK says so, once per resource and kind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../src/index.js';
import { FakeDaemon, IMMEDIATE, quietLogger } from './fake-daemon.js';

describe('locks that outlive their task', () => {
  let daemon: FakeDaemon;
  let dd: Client;
  const logger = quietLogger();
  before(async () => {
    daemon = await FakeDaemon.start();
    dd = await connect({ ...IMMEDIATE, url: daemon.url, service: 'outlive', reconnect: false, logger });
  });
  after(async () => {
    await dd.close();
    await daemon.close();
    assert.deepEqual(daemon.invalid, [], 'every frame the SDK sent matches the protocol');
  });

  it('a hold returned out of its task: one warning naming task and lock; the daemon hears `end`, no release', async () => {
    const m = dd.mutex('leaky');
    const before = logger.warnings.length;
    const reported = () => daemon.facts().some((e) => e.type === 'hold' && e.resource === 'leaky');
    const h = await dd.task('returns-its-lock', async () => {
      const held = await m.acquire();
      await daemon.waitFor(reported, 'the hold to be reported');
      return held;
    });
    // the warning is logged as the task ends; the `end` follows on the wire
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'end'), 'end');
    await daemon.barrier(dd);
    const warned = logger.warnings.slice(before);
    assert.equal(warned.length, 1, warned.join('\n'));
    assert.match(warned[0]!, /task 'returns-its-lock' ended still holding 'leaky'; deadlockd stops tracking it/);
    const facts = daemon.facts();
    const end = facts.findIndex((e) => e.type === 'end');
    assert.ok(end >= 0 && facts.slice(0, end).some((e) => e.type === 'hold' && e.resource === 'leaky'), JSON.stringify(facts));
    const count = daemon.facts().length;
    h.release(); // locally released; nothing more is said to the daemon about an ended owner
    await daemon.barrier(dd); // whatever the release sent has arrived
    assert.equal(daemon.facts().length, count, JSON.stringify(daemon.facts().slice(count)));

    // the same lock leaking again is not warned about again
    const again = await dd.task('returns-its-lock', async () => m.acquire());
    again.release();
    await daemon.barrier(dd);
    assert.equal(logger.warnings.length, before + 1);
  });

  it('a task that ends holding three locks: each is warned about once and none stays tracked', async () => {
    // the task's end untracks its records while it walks them, and the last one out replaces the
    // emptied sets (collections.ts): every record must still be reached
    const locks = ['leak-1', 'leak-2', 'leak-3'].map((n) => dd.mutex(n));
    const other = await dd.mutex('held-meanwhile').acquire(); // another owner's record, which must stay tracked
    const before = logger.warnings.length;
    const liveBefore = dd.stats.liveRecords;
    const held = await dd.task('keeps-three', async () => Promise.all(locks.map((m) => m.acquire())));
    await daemon.barrier(dd);
    const warned = logger.warnings.slice(before);
    assert.equal(warned.length, 3, warned.join('\n'));
    for (const n of ['leak-1', 'leak-2', 'leak-3']) assert.ok(warned.some((w) => w.includes(`'${n}'`)), `${n} in ${warned.join('\n')}`);
    assert.equal(dd.stats.liveRecords, liveBefore, "the ended task left no tracked record, and took nobody else's");
    for (const h of held) h.release();
    other.release();
  });

  it('an acquire never awaited inside a task is named as pending', async () => {
    const m = dd.mutex('busy');
    const first = await m.acquire(); // held by the implicit owner 'main'
    const before = logger.warnings.length;
    let pending!: Promise<{ release(): void }>;
    await dd.task('forgets-to-await', async () => {
      pending = m.acquire();
    });
    await daemon.barrier(dd);
    assert.equal(logger.warnings.length, before + 1);
    assert.match(logger.warnings.at(-1)!, /task 'forgets-to-await' ended with an acquire of 'busy' still pending \(never awaited\?\)/);
    first.release();
    (await pending).release();
  });

  it('a task that releases what it took says nothing', async () => {
    const before = logger.warnings.length;
    await dd.task('tidy', async () => {
      const h = await dd.mutex('tidy-lock').acquire();
      h.release();
    });
    await daemon.barrier(dd);
    assert.equal(logger.warnings.length, before);
  });
});
