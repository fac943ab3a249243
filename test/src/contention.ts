// The contention workload of issue 8: many concurrent transfers that lock two accounts in
// opposite orders, each under retryOnDeadlock, with a pause between the two acquires. Used by
// the end-to-end test (test/test/contention.test.ts) and the bench (bench/src/contention.ts).
//
// It counts, from the application's side, every DeadlockError an attempt failed with, and how
// many of them hit an attempt that held no lock at that moment (an "empty-handed" victim: its
// abort frees nothing, issue 8's needless abort).
import { DeadlockError, type Client, type RetryOptions } from '@deadlockd/client';

export interface ContentionOptions {
  /** accounts (FIFO mutexes) the transfers pick from */
  accounts: number;
  /** concurrent workers */
  workers: number;
  /** transfers each worker runs one after the other */
  transfersPerWorker: number;
  /** pause between the first and the second acquire, ms */
  gapMs: number;
  /** how a worker picks its pair: 'opposite' alternates a→b and b→a on accounts 0 and 1 */
  pattern: 'opposite' | 'random';
  /** seed of the deterministic pair picker ('random') */
  seed?: number;
  retry?: RetryOptions;
  /** resource name prefix, so runs on one client do not share locks */
  prefix?: string;
}

export interface ContentionResult {
  transfers: number;
  completed: number;
  /** DeadlockErrors seen by attempts */
  aborts: number;
  /** of those, attempts that held no lock when aborted */
  emptyHandedAborts: number;
  /** most attempts one transfer needed */
  maxAttempts: number;
  ms: number;
  /** the balances still sum to what they started with */
  conserved: boolean;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

export async function runContention(dd: Client, o: ContentionOptions): Promise<ContentionResult> {
  const prefix = o.prefix ?? 'acct';
  const locks = Array.from({ length: o.accounts }, (_, i) => dd.mutex(`${prefix}:${i}`));
  const balance = Array.from({ length: o.accounts }, () => 1_000);
  const rand = lcg(o.seed ?? 1);
  const pairs: [number, number][][] = [];
  for (let w = 0; w < o.workers; w++) {
    const mine: [number, number][] = [];
    for (let t = 0; t < o.transfersPerWorker; t++) {
      if (o.pattern === 'opposite') mine.push(w % 2 === 0 ? [0, 1] : [1, 0]);
      else {
        const from = Math.floor(rand() * o.accounts);
        const to = (from + 1 + Math.floor(rand() * (o.accounts - 1))) % o.accounts;
        mine.push([from, to]);
      }
    }
    pairs.push(mine);
  }
  const r: ContentionResult = { transfers: o.workers * o.transfersPerWorker, completed: 0, aborts: 0, emptyHandedAborts: 0, maxAttempts: 0, ms: 0, conserved: false };
  const t0 = performance.now();
  const transfer = async (w: number, t: number, from: number, to: number): Promise<void> => {
    let attempts = 0;
    await dd.retryOnDeadlock(
      () =>
        dd.task(`transfer ${from}->${to} #${w}.${t}`, async () => {
          attempts++;
          // count an abort where it happens, with what this attempt held at that moment
          const take = async (i: number, holding: number) => {
            try {
              return await locks[i]!.acquire();
            } catch (e) {
              if (e instanceof DeadlockError) {
                r.aborts++;
                if (holding === 0) r.emptyHandedAborts++;
              }
              throw e;
            }
          };
          const h1 = await take(from, 0);
          try {
            await new Promise((res) => setTimeout(res, o.gapMs));
            const h2 = await take(to, 1);
            try {
              const f = balance[from]!;
              await new Promise((res) => setImmediate(res));
              balance[from] = f - 1;
              balance[to] = balance[to]! + 1;
            } finally {
              h2.release();
            }
          } finally {
            h1.release();
          }
        }),
      o.retry,
    );
    r.completed++;
    r.maxAttempts = Math.max(r.maxAttempts, attempts);
  };
  await Promise.all(
    pairs.map(async (mine, w) => {
      for (let t = 0; t < mine.length; t++) await transfer(w, t, mine[t]![0], mine[t]![1]);
    }),
  );
  r.ms = performance.now() - t0;
  r.conserved = balance.reduce((a, b) => a + b, 0) === 1_000 * o.accounts;
  return r;
}
