// The cross-process lock service the scenarios rely on must itself be right:
// FIFO grants, CANCEL of a pending request, release on disconnect, and a
// LockClient whose abort signal withdraws the request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, startLockServerProcess, type LockServerProcess } from '../src/harness.js';
import { LockClient } from '../src/lock-server.js';
import { STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';

const T = TEST_TIMEOUT;

/**
 * A round trip on `c`'s connection: the server answers commands in order, so once this resolves
 * it has processed every command `c` sent before (a LOCK is queued), and any reply it sent
 * before (a GRANTED) has been handled. No sleep: a barrier.
 */
async function processed(...cs: LockClient[]): Promise<void> {
  await Promise.all(cs.map((c) => c.get('__barrier__')));
}

/** true if `p` settled by the time `c`'s earlier commands were answered */
async function settledBy(p: Promise<unknown>, c: LockClient): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await processed(c);
  return settled;
}

describe('lock server (own child process)', () => {
  let server: LockServerProcess;
  const clients: LockClient[] = [];
  const client = async () => {
    const c = await LockClient.connect(server.port);
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startLockServerProcess();
  });
  after(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await cleanup(server);
  });

  test('grants in FIFO order per name, and names are independent', T, async () => {
    const [a, b, c] = [await client(), await client(), await client()];
    await a.acquire('fifo:x');
    const order: string[] = [];
    const pb = b.acquire('fifo:x').then(() => order.push('b'));
    await processed(b); // b's LOCK reaches the server before c's
    const pc = c.acquire('fifo:x').then(() => order.push('c'));
    await c.acquire('fifo:other'); // another name is not blocked by fifo:x
    c.release('fifo:other');
    assert.equal(await settledBy(pb, b), false, 'b must wait while a holds fifo:x');
    a.release('fifo:x');
    await within(STEP_MS, 'b to get fifo:x', pb);
    b.release('fifo:x');
    await within(STEP_MS, 'c to get fifo:x', pc);
    c.release('fifo:x');
    assert.deepEqual(order, ['b', 'c']);
  });

  test('an aborted acquire sends CANCEL, rejects with the reason, and the lock skips it', T, async () => {
    const [a, b, c] = [await client(), await client(), await client()];
    await a.acquire('cancel:x');
    const ac = new AbortController();
    const pb = b.acquire('cancel:x', ac.signal);
    const pc = c.acquire('cancel:x');
    await processed(b, c); // both requests are queued behind a
    const reason = new Error('gave up');
    ac.abort(reason);
    await assert.rejects(pb, (e) => e === reason);
    a.release('cancel:x');
    await within(STEP_MS, 'c to get the lock b withdrew from', pc);
    c.release('cancel:x');
    // b never holds it: a fresh acquire by a is granted at once
    await within(STEP_MS, 'cancel:x to be free', a.acquire('cancel:x'));
    a.release('cancel:x');
  });

  test('an already aborted signal rejects without locking', T, async () => {
    const a = await client();
    const ac = new AbortController();
    ac.abort(new Error('before'));
    await assert.rejects(a.acquire('pre:x', ac.signal), /before/);
    const b = await client();
    await within(STEP_MS, 'pre:x to be free', b.acquire('pre:x'));
    b.release('pre:x');
  });

  test('a closed connection releases its locks and drops its pending requests', T, async () => {
    const a = await LockClient.connect(server.port);
    const b = await LockClient.connect(server.port);
    const c = await client();
    await a.acquire('drop:held');
    await c.acquire('drop:pending');
    const pending = b.acquire('drop:pending');
    pending.catch(() => {});
    const waiter = c.acquire('drop:held');
    await processed(b, c); // both requests are queued
    await a.close();
    await within(STEP_MS, 'the lock of a closed connection to pass on', waiter);
    await b.close();
    await assert.rejects(pending, /closed/);
    c.release('drop:pending');
    c.release('drop:held');
    const d = await client();
    await within(STEP_MS, 'drop:pending to be free (b dropped)', d.acquire('drop:pending'));
    d.release('drop:pending');
  });

  test('GET/SET is a shared ledger across connections', T, async () => {
    const [a, b] = [await client(), await client()];
    assert.equal(await a.get('ledger:unset'), 0);
    await a.set('ledger:x', 1000);
    assert.equal(await b.get('ledger:x'), 1000);
    await b.set('ledger:x', -5);
    assert.equal(await a.get('ledger:x'), -5);
  });
});
