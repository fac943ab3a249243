// Two transfers in opposite directions, forced to interleave: a real deadlock.
// deadlockd picks one victim, its acquire rejects with DeadlockError (printed
// below), retryOnDeadlock runs it again, and both transfers complete.
import { connect, DeadlockError } from '@deadlockd/client';

const dd = await connect({ url: process.env.DEADLOCKD_URL ?? 'ws://127.0.0.1:7070/v1/stream', service: 'payments' });
const balances = new Map([['a', 100], ['b', 100]]);
const locks = new Map([...balances.keys()].map((k) => [k, dd.mutex(`account:${k}`)]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function transfer(from: string, to: string, amount: number) {
  let attempt = 0;
  await dd.retryOnDeadlock(() =>
    dd.task(`transfer ${from}->${to}`, async () => {
      attempt++;
      const rf = await locks.get(from)!.acquire();
      try {
        if (attempt === 1) await sleep(50); // both now hold their first account
        const rt = await locks.get(to)!.acquire();
        try {
          balances.set(from, balances.get(from)! - amount);
          balances.set(to, balances.get(to)! + amount);
        } finally {
          rt.release();
        }
      } catch (err) {
        if (err instanceof DeadlockError) console.log(`\n${err.message}\n`);
        throw err;
      } finally {
        rf.release();
      }
    }),
  );
  return attempt;
}

const attempts = await Promise.all([transfer('a', 'b', 10), transfer('b', 'a', 30)]);
console.log(`balances: a=${balances.get('a')} b=${balances.get('b')} (total ${balances.get('a')! + balances.get('b')!}); attempts: ${attempts.join(', ')}`);
await dd.close();
