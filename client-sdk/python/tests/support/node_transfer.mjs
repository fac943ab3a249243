// The Node half of the cross-language test: a Node service that takes two PostgreSQL advisory
// locks through the Node SDK's adapter (package @deadlockd/client, resolved from the workspace),
// the first at once, the second when the test says "go" on stdin. Prints JSON lines:
// {"holding": key} once it holds the first lock, then {"result": "granted"} or
// {"result": "deadlock", "deadlockId": ...}.
import { createInterface } from 'node:readline';
import { connect, DeadlockError } from '@deadlockd/client';
import { advisoryLock } from '@deadlockd/client/pg-advisory';
import pg from 'pg';

const [url, pgConfig, first, second] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const lines = createInterface({ input: process.stdin });
const go = new Promise((resolve) => lines.on('line', (l) => l.trim() === 'go' && resolve()));

const dd = await connect({ url, service: 'node-billing' });
const db = new pg.Client(JSON.parse(pgConfig));
await db.connect();
let result;
await dd.task('node-transfer', async () => {
  const a = await advisoryLock(dd, db, Number(first)).acquire();
  say({ holding: Number(first) });
  await go;
  try {
    const b = await advisoryLock(dd, db, Number(second)).acquire();
    result = { result: 'granted' };
    await b.release();
  } catch (err) {
    if (!(err instanceof DeadlockError)) throw err;
    result = { result: 'deadlock', deadlockId: err.deadlockId };
  }
  await a.release();
});
await db.end();
await dd.close();
say(result);
lines.close();
