// A service that takes a distributed lock (the harness lock server) and then waits for another
// one, reporting both through the SDK — and is then killed with SIGKILL by the test, mid-wait.
//
//   node lock-then-wait.js --daemon <ws url> --lock-port <n> --service <name> --hold <lock> --want <lock>
//
// Prints `HOLDING <lock>` once it holds --hold, and `WAITING <lock>` once its wait for --want
// has been pending long enough to have been reported to the daemon. Then it waits forever.
import { connect } from '@deadlockd/client';
import { takeDistributed } from '../distributed-lock.js';
import { LockClient } from '../lock-server.js';
import { argValue } from '../service-kit.js';
import { CONNECT_TIMEOUT_MS } from '../timing.js';

const url = argValue('daemon');
const service = argValue('service');
const hold = argValue('hold');
const want = argValue('want');
const dd = await connect({ url, service, connectTimeoutMs: CONNECT_TIMEOUT_MS });
if (!dd.connected) throw new Error(`SDK did not connect to ${url}`);
const locks = await LockClient.connect(Number(argValue('lock-port')));
const take = (name: string) => takeDistributed(dd, locks, name);

await dd.task(`${service} holds ${hold}, wants ${want}`, async () => {
  await take(hold);
  console.log(`HOLDING ${hold}`);
  const pending = take(want);
  pending.catch(() => {});
  // the test waits for this wait to reach the daemon (GET /v1/graph), not for a time
  console.log(`WAITING ${want}`);
  await new Promise(() => {}); // until killed
});
