// One round of a lock cycle inside one service: every member takes its first
// mutex, meets the others at a barrier (first attempt only, so a retry never
// waits for owners that have already finished), then takes its second mutex.
// With every first lock held, the second acquires form a cycle that only the
// daemon can break. Each member runs under retryOnDeadlock, as an app would.
import { DeadlockError, type Client } from '@deadlockd/client';
import { Barrier } from './barrier.js';

type Mutex = ReturnType<Client['mutex']>;

export interface CycleMember {
  /** task (owner) name; the round number is appended */
  name: string;
  first: Mutex;
  second: Mutex;
  /** the critical section, run while both mutexes are held */
  work?: () => Promise<void>;
}

export interface RoundOutcome {
  /** every DeadlockError any member saw in this round */
  deadlocks: DeadlockError[];
  /** members whose critical section completed */
  completed: number;
}

export async function runCycleRound(dd: Client, members: CycleMember[], round: number): Promise<RoundOutcome> {
  const barrier = new Barrier(members.length);
  const outcome: RoundOutcome = { deadlocks: [], completed: 0 };
  await Promise.all(
    members.map((m) => {
      let attempt = 0;
      return dd.retryOnDeadlock(() =>
        dd.task(`${m.name} #${round}`, async () => {
          const firstAttempt = attempt++ === 0;
          try {
            const h1 = await m.first.acquire();
            try {
              if (firstAttempt) await barrier.wait();
              const h2 = await m.second.acquire();
              try {
                await m.work?.();
                outcome.completed++;
              } finally {
                h2.release();
              }
            } finally {
              h1.release();
            }
          } catch (e) {
            if (e instanceof DeadlockError) outcome.deadlocks.push(e);
            throw e;
          }
        }),
      );
    }),
  );
  return outcome;
}
