// Scenario 7 with a real distributed lock: PostgreSQL advisory locks. One service moves money
// between two accounts of a real table, under the accounts' advisory locks taken in the order
// `--first`, `--second`; the other process runs the same script in the opposite order. Neither
// process can see the cycle; only the daemon can (PostgreSQL's own detector is set to 10 s here).
//
//   node advisory-transfer.js --daemon <ws url> --pg <json config> --service <name>
//        --first <key> --second <key> --amount <n> --rounds <n>
//
// The rounds are runTransferRounds (transfer-rounds.ts). When this process is the victim, it checks from ANOTHER
// backend, at the moment DeadlockError arrives, that its own backend no longer waits in
// pg_locks. Prints {service, moved, deadlocksPerRound, deadlockIds, stillWaitingAfterAbort,
// victimStacks, serviceOfMembers}.
import { connect } from '@deadlockd/client';
import { advisoryLock } from '@deadlockd/client/pg-advisory';
import pg from 'pg';
import { argValue, runMain } from '../service-kit.js';
import { runTransferRounds } from '../transfer-rounds.js';
import { CONNECT_TIMEOUT_MS } from '../timing.js';

runMain(async () => {
  const url = argValue('daemon');
  const service = argValue('service');
  const config = JSON.parse(argValue('pg')) as pg.ClientConfig;
  const first = Number(argValue('first'));
  const second = Number(argValue('second'));
  const amount = Number(argValue('amount'));
  const rounds = Number(argValue('rounds'));

  const dd = await connect({ url, service, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  if (!dd.connected) throw new Error(`SDK did not connect to ${url}`);
  const db = new pg.Client(config); // the connection that takes the locks
  const observer = new pg.Client(config); // another backend, to look at pg_locks
  await Promise.all([db.connect(), observer.connect()]);
  const backendPid = (db as unknown as { processID: number }).processID;

  const stillWaitingAfterAbort: number[] = [];
  const victimStacks: string[] = [];
  const serviceOfMembers: string[][] = [];
  const balance = async (id: number) =>
    (await db.query<{ balance: number }>('select balance from accounts where id = $1', [id])).rows[0]!.balance;
  const result = await runTransferRounds({
    dd,
    task: `${service} transfer ${first}->${second}`,
    rounds,
    amount,
    take: (which) => advisoryLock(dd, db, which === 'first' ? first : second).acquire(),
    // read-modify-write: a lost update would show if the locks did not exclude the other process
    move: async () => {
      const from = await balance(first);
      const to = await balance(second);
      await db.query('update accounts set balance = $2 where id = $1', [first, from - amount]);
      await db.query('update accounts set balance = $2 where id = $1', [second, to + amount]);
    },
    // at the moment DeadlockError arrives, this backend must no longer wait on the server
    onDeadlock: async (e) => {
      const waiting = await observer.query<{ n: string }>(
        `select count(*) as n from pg_locks where pid = $1 and locktype = 'advisory' and not granted`,
        [backendPid],
      );
      stillWaitingAfterAbort.push(Number(waiting.rows[0]!.n));
      victimStacks.push(...e.report.members.flatMap((m) => m.waits.map((w) => w.stack ?? '')));
      serviceOfMembers.push(e.report.members.map((m) => m.service).sort());
    },
  });

  await Promise.all([db.end(), observer.end()]);
  await dd.close();
  return { service, ...result, stillWaitingAfterAbort, victimStacks, serviceOfMembers, backendPid };
});
