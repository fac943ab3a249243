// The round loop of the cross-process transfer services (cross-transfer over the lock server,
// advisory-transfer over PostgreSQL advisory locks). Per round: every service meets the others
// at `start:<r>`, takes its first lock, meets them at `held:<r>` (first attempt only, so a retry
// never waits for a service that has already finished), then asks for its second lock, which
// closes the cycle that only the daemon can see. Each round runs under retryOnDeadlock, as an
// app would; every DeadlockError is counted and handed to onDeadlock first.
import { DeadlockError, type Client } from '@deadlockd/client';
import { barrier } from './service-kit.js';

interface HeldLock {
  release(): void | Promise<void>;
}

export interface TransferRoundsOptions {
  dd: Client;
  /** task name of a round, without the round number */
  task: string;
  rounds: number;
  amount: number;
  take(which: 'first' | 'second'): Promise<HeldLock>;
  /** the critical section, run while both locks are held */
  move(): Promise<void>;
  /** looks at a DeadlockError while its task still unwinds (before the retry) */
  onDeadlock?(e: DeadlockError): Promise<void>;
}

export interface TransferRoundsResult {
  moved: number;
  deadlocksPerRound: number[];
  deadlockIds: string[];
}

export async function runTransferRounds(o: TransferRoundsOptions): Promise<TransferRoundsResult> {
  const result: TransferRoundsResult = { moved: 0, deadlocksPerRound: [], deadlockIds: [] };
  for (let r = 0; r < o.rounds; r++) {
    await barrier(`start:${r}`);
    let attempt = 0;
    let deadlocks = 0;
    await o.dd.retryOnDeadlock(() =>
      o.dd.task(`${o.task} #${r}`, async () => {
        const firstAttempt = attempt++ === 0;
        try {
          const first = await o.take('first');
          try {
            if (firstAttempt) await barrier(`held:${r}`);
            const second = await o.take('second');
            try {
              await o.move();
              result.moved += o.amount;
            } finally {
              await second.release();
            }
          } finally {
            await first.release();
          }
        } catch (e) {
          if (e instanceof DeadlockError) {
            deadlocks++;
            result.deadlockIds.push(e.deadlockId);
            await o.onDeadlock?.(e);
          }
          throw e;
        }
      }),
    );
    result.deadlocksPerRound.push(deadlocks);
  }
  return result;
}
