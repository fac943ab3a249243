import { connect, DeadlockError } from '@deadlockd/client';
import { redisLock } from './stand-in-lock.js'; // your distributed lock client (examples/src/stand-in-lock.ts: an in-memory stand-in)

const dd = await connect({ url: process.env.DEADLOCKD_URL ?? 'ws://127.0.0.1:7070/v1/stream', service: 'payments' });

// process-local primitives (ids scoped to this client)
const a = dd.mutex('account:a');
const pool = dd.semaphore('db-pool', 10);
const cfg = dd.rwlock('config'); // acquire('shared' | 'exclusive')

// shared, cross-process resources (a distributed lock, a DB advisory lock):
// report-only. acquire(fn) calls fn(signal) to take the real lock, reports the
// wait while fn is pending and the hold once it resolves; if this wait is the
// victim, signal aborts and acquire rejects with DeadlockError.
const order = dd.resource('redis:lock:order:7');
const held = await order.acquire((signal) => redisLock.acquire('order:7', { signal }));
// ... later: release the real lock yourself, then report it
await redisLock.release('order:7');
held.release();

await dd.retryOnDeadlock(() =>
  dd.task('transfer a->b', { priority: 0 }, async () => {
    const ra = await a.acquire(); // may reject with DeadlockError
    const conn = await pool.acquire();
    const settings = await cfg.acquire('shared');
    try {
      /* ... */
    } finally {
      settings.release();
      conn.release();
      ra.release();
    }
  }),
);

await dd.close();
console.log('quickstart done; DeadlockError is exported for instanceof checks:', typeof DeadlockError);
