// Scenario 1/7 across processes: one service moving money between two
// accounts guarded by locks of the shared lock server (a stand-in for a
// distributed lock). It locks `from`, then `to`; the other process runs the
// same script in the opposite direction. Only the daemon can see the cycle.
//
//   node cross-transfer.js --daemon <ws url> --lock-port <n> --service <name>
//        --from <acct> --to <acct> --amount <n> --rounds <n>
//
// Per round: both services meet at `start:<r>`, each takes its first lock,
// meets the other at `held:<r>` (first attempt only), then asks for its
// second lock. Prints {service, moved, deadlocksPerRound, deadlockIds}.
import { connect, DeadlockError } from '@deadlockd/client';
import { LockClient } from '../lock-server.js';
import { argValue, barrier, runMain } from '../service-kit.js';

runMain(async () => {
  const url = argValue('daemon');
  const service = argValue('service');
  const from = argValue('from');
  const to = argValue('to');
  const amount = Number(argValue('amount'));
  const rounds = Number(argValue('rounds'));

  const dd = await connect({ url, service });
  if (!dd.connected) throw new Error(`SDK did not connect to ${url}`);
  const locks = await LockClient.connect(Number(argValue('lock-port')));

  // take the real lock inside resource().acquire so the SDK reports the wait
  // while LOCK is pending and the hold once GRANTED arrives
  const lockAccount = async (acct: string) => {
    const name = `acct:${acct}`;
    const held = await dd.resource(name).acquire((signal) => locks.acquire(name, signal));
    return {
      release: () => {
        locks.release(name); // the real lock first, then report it (DESIGN §8)
        held.release();
      },
    };
  };

  const deadlocksPerRound: number[] = [];
  const deadlockIds: string[] = [];
  let moved = 0;
  for (let r = 0; r < rounds; r++) {
    await barrier(`start:${r}`);
    let attempt = 0;
    let deadlocks = 0;
    await dd.retryOnDeadlock(() =>
      dd.task(`${service} transfer ${from}->${to} #${r}`, async () => {
        const firstAttempt = attempt++ === 0;
        try {
          const first = await lockAccount(from);
          try {
            if (firstAttempt) await barrier(`held:${r}`);
            const second = await lockAccount(to);
            try {
              // read-modify-write on the shared ledger: a lost update would
              // show if the locks did not really exclude the other process
              const a = await locks.get(`balance:${from}`);
              const b = await locks.get(`balance:${to}`);
              await locks.set(`balance:${from}`, a - amount);
              await locks.set(`balance:${to}`, b + amount);
              moved += amount;
            } finally {
              second.release();
            }
          } finally {
            first.release();
          }
        } catch (e) {
          if (e instanceof DeadlockError) {
            deadlocks++;
            deadlockIds.push(e.deadlockId);
          }
          throw e;
        }
      }),
    );
    deadlocksPerRound.push(deadlocks);
  }

  await locks.close();
  await dd.close();
  return { service, moved, deadlocksPerRound, deadlockIds };
});
