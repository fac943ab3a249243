// The sidecar demo (examples/docker-compose.yml runs it beside the daemon; it also runs locally:
// `node examples/dist/src/demo-service.js`). Every round two transfers between the same two
// accounts run in opposite directions and are made to interleave: each takes its first account,
// then asks for the other one. That is a real deadlock. deadlockd aborts one of the two waits,
// retryOnDeadlock runs the victim again, both transfers complete and the money adds up.
//
// env: DEADLOCKD_URL (default ws://127.0.0.1:7070/v1/stream), DEADLOCKD_TOKEN (when the daemon
// has auth on), DEMO_ROUNDS (stop after n rounds; default: run until SIGTERM/SIGINT),
// DEMO_INTERVAL_MS (pause between rounds, default 3000), DEMO_SERVICE (default payments-demo).
import { connect, isDeadlockError, type DeadlockReport } from '@deadlockd/client';

const url = process.env.DEADLOCKD_URL ?? 'ws://127.0.0.1:7070/v1/stream';
const token = process.env.DEADLOCKD_TOKEN || undefined;
const rounds = positiveInt('DEMO_ROUNDS', Infinity);
const intervalMs = positiveInt('DEMO_INTERVAL_MS', 3000, 0);
const service = process.env.DEMO_SERVICE ?? 'payments-demo';
// No acquire may wait longer than this: with the daemon gone, a deadlock would hang forever.
const STUCK_MS = 15_000;

const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const dd = await connect({ url, token, service, reconnect: { maxDelayMs: 2000 } });
if (!(await connectedWithin(10_000))) {
  log(`not connected to ${url} after 10 s (daemon down, or a missing/wrong DEADLOCKD_TOKEN?): exiting`);
  await dd.close();
  process.exit(1);
}
log(`connected to ${url} as service '${service}'${token ? ' with a token' : ''}`);

const accounts = ['alice', 'bob', 'carol', 'dave'];
const balances = new Map(accounts.map((k) => [k, 100]));
const TOTAL = 100 * accounts.length;
const locks = new Map(accounts.map((k) => [k, dd.mutex(`account:${k}`)]));

let stopping = false;
let sleeping: (() => void) | undefined;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping after this round`);
    stopping = true;
    sleeping?.();
  });
}

/** Resolves when `count` callers arrived: both transfers hold their first account. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return () => {
    if (++arrived === count) open();
    return opened;
  };
}

interface Outcome {
  attempts: number;
  deadlock?: DeadlockReport;
}

async function transfer(from: string, to: string, amount: number, bothHoldFirst: () => Promise<void>): Promise<Outcome> {
  const outcome: Outcome = { attempts: 0 };
  await dd.retryOnDeadlock(() =>
    dd.task(`transfer ${from}->${to}`, async () => {
      outcome.attempts++;
      const first = await locks.get(from)!.acquire({ timeoutMs: STUCK_MS });
      try {
        if (outcome.attempts === 1) await bothHoldFirst(); // the other transfer holds `to` now
        const second = await locks.get(to)!.acquire({ timeoutMs: STUCK_MS });
        try {
          balances.set(from, balances.get(from)! - amount);
          balances.set(to, balances.get(to)! + amount);
        } finally {
          second.release();
        }
      } catch (err) {
        if (isDeadlockError(err)) outcome.deadlock = err.report; // this task was the victim
        throw err;
      } finally {
        first.release();
      }
    }),
  );
  return outcome;
}

function pickPair(): [string, string] {
  const i = Math.floor(Math.random() * accounts.length);
  const j = (i + 1 + Math.floor(Math.random() * (accounts.length - 1))) % accounts.length;
  return [accounts[i]!, accounts[j]!];
}

async function round(n: number): Promise<void> {
  const [x, y] = pickPair();
  const amounts = [1 + Math.floor(Math.random() * 20), 1 + Math.floor(Math.random() * 20)] as const;
  const started = performance.now();
  const arrive = barrier(2);
  const [xy, yx] = await Promise.all([transfer(x, y, amounts[0], arrive), transfer(y, x, amounts[1], arrive)]);
  const ms = Math.round(performance.now() - started);
  const victim = xy.deadlock ? `${x}->${y}` : yx.deadlock ? `${y}->${x}` : undefined;
  const report = xy.deadlock ?? yx.deadlock;
  const total = [...balances.values()].reduce((a, b) => a + b, 0);
  const money = `balances ${accounts.map((k) => `${k}=${balances.get(k)}`).join(' ')} (total ${total})`;
  if (report !== undefined) {
    log(
      `round ${n}: transfers ${x}->${y} (${amounts[0]}) and ${y}->${x} (${amounts[1]}) deadlocked; ` +
        `deadlockd ${report.id} aborted 'transfer ${victim}' (${report.victim?.reason ?? 'no reason given'}), ` +
        `retried, both done in ${ms} ms (attempts ${xy.attempts} + ${yx.attempts}); ${money}`,
    );
    if (n === 1) log(`the report of round 1, as the daemon wrote it:\n${report.text}`);
  } else {
    log(`round ${n}: transfers ${x}<->${y} done in ${ms} ms without a deadlock; ${money}`);
  }
  if (total !== TOTAL) throw new Error(`money was created or lost: total ${total}, expected ${TOTAL}`);
}

let exitCode = 0;
try {
  for (let n = 1; n <= rounds && !stopping; n++) {
    await round(n);
    if (n < rounds && !stopping) {
      await new Promise<void>((r) => {
        sleeping = r;
        setTimeout(r, intervalMs);
      });
      sleeping = undefined;
    }
  }
  log('done');
} catch (err) {
  log(`demo failed: ${(err as Error).stack ?? String(err)}`);
  exitCode = 1;
}
await dd.close();
process.exit(exitCode);

async function connectedWithin(ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!dd.connected && Date.now() < deadline) await sleep(100);
  return dd.connected;
}

function positiveInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${name} must be an integer >= ${min}, got '${raw}'`);
    process.exit(2);
  }
  return n;
}
