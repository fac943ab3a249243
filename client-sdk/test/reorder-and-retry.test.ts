// The `reorder` frame (a deadlock resolved by moving waits ahead in a FIFO queue) and what
// retryOnDeadlock keeps across attempts (the first attempt's start time and priority).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadlockError, retryOnDeadlock, type Held } from '../src/index.js';
import { backoffDelay } from '../src/retry.js';
import { IMMEDIATE, report, sdkFixture } from './fake-daemon.js';

const { setup } = sdkFixture({ service: 'reorder', ...IMMEDIATE });

describe('reorder frame', () => {
  it('the hello announces the feature; listed waits move to the front and the head is granted', async () => {
    const { daemon, dd } = await setup();
    const hello = daemon.frames.map((r) => r.frame).find((f) => f.type === 'hello');
    assert.ok(hello && hello.type === 'hello');
    assert.deepEqual(hello.features, ['reorder']);

    const rw = dd.rwlock('cfg');
    const reader = await dd.task('reader', () => rw.acquire('shared'));
    const order: string[] = [];
    const take = (name: string, mode: 'shared' | 'exclusive') =>
      dd.task(name, async () => {
        const h = await rw.acquire(mode);
        order.push(name);
        return h;
      });
    const writer = take('writer', 'exclusive'); // waits for the reader
    const late = take('late reader', 'shared'); // FIFO: behind the writer
    await daemon.waitFor(() => daemon.facts().filter((e) => e.type === 'wait').length === 2, 'two waits');
    const lateWait = daemon.facts().filter((e) => e.type === 'wait')[1]!;
    assert.ok(lateWait.type === 'wait');
    daemon.send({ type: 'reorder', deadlock: 'd1', resource: 'cfg', waits: ['no-such-wait', lateWait.waitId] });
    const h = await late; // shared fits next to the reader once it is ahead of the writer
    assert.deepEqual(order, ['late reader']);
    h.release();
    reader.release();
    (await writer).release();
    assert.deepEqual(order, ['late reader', 'writer']);
  });

  it('a reorder for an unknown resource or wait changes nothing', async () => {
    const { daemon, dd } = await setup();
    const m = dd.mutex('m');
    const held = await m.acquire();
    const waiter = dd.task('w', () => m.acquire());
    await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'wait'), 'a wait');
    daemon.send({ type: 'reorder', deadlock: 'd1', resource: 'nope', waits: ['w1'] });
    daemon.send({ type: 'reorder', deadlock: 'd2', resource: 'm', waits: ['nope'] });
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(m.waiting, 1);
    held.release();
    (await waiter).release();
  });
});

describe('retryOnDeadlock across attempts', () => {
  it('every attempt is declared with the first attempt\'s start time and priority', async () => {
    const { daemon, dd } = await setup();
    // a hold the daemon has seen, so the owner was declared to it
    const holdUntilReported = async (name: string) => {
      const h: Held = await dd.mutex(name).acquire();
      await daemon.waitFor(() => daemon.events().some((e) => e.type === 'hold' && e.resource === name), `hold ${name}`);
      h.release();
    };
    let n = 0;
    await dd.retryOnDeadlock(async () => {
      n++;
      // the first attempt sets the priority; a later one that gives none keeps it
      await dd.task(`attempt ${n}`, n === 1 ? { priority: 3 } : {}, async () => {
        await holdUntilReported(`x${n}`);
        if (n < 3) throw new DeadlockError(`d${n}`, report(`d${n}`));
      });
    }, { backoffMs: 1 });
    const owners = daemon.events().filter((e) => e.type === 'owner' && e.name?.startsWith('attempt'));
    assert.equal(owners.length, 3);
    const starts = new Set(owners.map((o) => (o.type === 'owner' ? o.startedAt : undefined)));
    assert.equal(starts.size, 1, `one start time for all attempts: ${[...starts]}`);
    assert.deepEqual(owners.map((o) => (o.type === 'owner' ? o.priority : undefined)), [3, 3, 3]);
  });

  it('tasks outside a retry, or in separate retries, keep their own start times', async () => {
    const { daemon, dd } = await setup();
    let k = 0;
    const once = () =>
      dd.task('t', async () => {
        const name = `y${++k}`;
        const h = await dd.mutex(name).acquire();
        await daemon.waitFor(() => daemon.events().some((e) => e.type === 'hold' && e.resource === name), `hold ${name}`);
        h.release();
      });
    await retryOnDeadlock(once);
    await retryOnDeadlock(once);
    const [a, b] = daemon.events().filter((e) => e.type === 'owner' && e.name === 't');
    assert.ok(a?.type === 'owner' && b?.type === 'owner');
    assert.ok(b.startedAt! > a.startedAt!, 'a later task is younger');
  });

  it('backoff doubles from backoffMs, is capped at maxBackoffMs, and jitters by `jitter`', () => {
    const max = { random: () => 1 - Number.EPSILON };
    const min = { random: () => 0 };
    assert.equal(backoffDelay(0, { backoffMs: 10, jitter: 0 }), 10);
    assert.equal(backoffDelay(3, { backoffMs: 10, jitter: 0 }), 80);
    assert.equal(backoffDelay(20, { backoffMs: 10, maxBackoffMs: 300, jitter: 0 }), 300);
    assert.equal(backoffDelay(2, { backoffMs: 10, jitter: 0.5, ...min }), 20);
    assert.ok(Math.abs(backoffDelay(2, { backoffMs: 10, jitter: 0.5, ...max }) - 40) < 1e-9);
    assert.equal(backoffDelay(2, { backoffMs: 10, jitter: 1, ...min }), 0);
    assert.throws(() => backoffDelay(0, { jitter: 2 }), /jitter/);
    assert.throws(() => backoffDelay(0, { backoffMs: -1 }), /backoffMs/);
  });
});
