// Scenario 1/7 across processes: one service moving money between two
// accounts guarded by locks of the shared lock server (a stand-in for a
// distributed lock). It locks `from`, then `to`; the other process runs the
// same script in the opposite direction. Only the daemon can see the cycle.
//
//   node cross-transfer.js --daemon <ws url> --lock-port <n> --service <name>
//        --from <acct> --to <acct> --amount <n> --rounds <n>
//
// The rounds are runTransferRounds (transfer-rounds.ts). Prints {service,
// moved, deadlocksPerRound, deadlockIds}.
import { connect } from '@deadlockd/client';
import { takeDistributed } from '../distributed-lock.js';
import { LockClient } from '../lock-server.js';
import { argValue, runMain } from '../service-kit.js';
import { runTransferRounds } from '../transfer-rounds.js';
import { CONNECT_TIMEOUT_MS } from '../timing.js';

runMain(async () => {
  const url = argValue('daemon');
  const service = argValue('service');
  const from = argValue('from');
  const to = argValue('to');
  const amount = Number(argValue('amount'));
  const rounds = Number(argValue('rounds'));

  const dd = await connect({ url, service, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  if (!dd.connected) throw new Error(`SDK did not connect to ${url}`);
  const locks = await LockClient.connect(Number(argValue('lock-port')));

  const lockAccount = async (acct: string) => ({ release: await takeDistributed(dd, locks, `acct:${acct}`) });

  const result = await runTransferRounds({
    dd,
    task: `${service} transfer ${from}->${to}`,
    rounds,
    amount,
    take: (which) => lockAccount(which === 'first' ? from : to),
    // read-modify-write on the shared ledger: a lost update would show if the locks did not
    // really exclude the other process
    move: async () => {
      const a = await locks.get(`balance:${from}`);
      const b = await locks.get(`balance:${to}`);
      await locks.set(`balance:${from}`, a - amount);
      await locks.set(`balance:${to}`, b + amount);
    },
  });

  await locks.close();
  await dd.close();
  return { service, ...result };
});
