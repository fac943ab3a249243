// 9. What the durable history costs a deadlock's resolution. Two daemon processes side by side,
// one keeping its history in a SQLite file (the default), one in memory (`--history-file
// :memory:`). Against each, one SDK client crosses two tasks over two mutexes; the clock starts at
// the acquire that closes the cycle and stops at the DeadlockError. Recording the deadlock (and
// its group) is a write transaction on the event loop between the detection and the abort frame,
// so it adds to exactly this time. The variants alternate repetition by repetition.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, DeadlockError, type Client } from '@deadlockd/client';
import { cleanup, startDaemon, type Daemon } from '@deadlockd/e2e/harness';
import { progress } from './child.js';
import { QUICK } from './mode.js';
import { median, sleep } from './stats.js';
import { fmtMs, fmtRatio, goalRow, infoRow, type Row } from './table.js';

const REPS = QUICK ? 5 : 100;
/** lets the first side's wait reach the daemon before the cycle closes */
const SETTLE_MS = 10;
const GOAL_RATIO = 1.5;

export interface HistoryFileResult {
  reps: number;
  fileMs: number[];
  memoryMs: number[];
  medianMs: { file: number; memory: number };
  /** file / memory */
  ratio: number;
}

function deferred(): { promise: Promise<void>; fire: () => void } {
  let fire: () => void = () => {};
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

/** One crossing; resolves with ms from the acquire that closes the cycle to the DeadlockError. */
async function crossOnce(dd: Client, rep: number): Promise<number> {
  const [x, y] = [dd.mutex(`account:${rep}:x`), dd.mutex(`account:${rep}:y`)];
  const bothHold = { a: deferred(), b: deferred() };
  let closedAt = 0;
  let abortedAt = 0;
  const side = (me: 'a' | 'b', first: typeof x, second: typeof x) =>
    dd.task(`transfer ${me}`, async () => {
      const h1 = await first.acquire();
      try {
        bothHold[me].fire();
        await Promise.all([bothHold.a.promise, bothHold.b.promise]);
        // b asks last: its acquire closes the cycle
        if (me === 'b') {
          await sleep(SETTLE_MS);
          closedAt = performance.now();
        }
        (await second.acquire()).release();
      } catch (e) {
        if (!(e instanceof DeadlockError)) throw e;
        abortedAt = performance.now();
      } finally {
        h1.release();
      }
    });
  await Promise.all([side('a', x, y), side('b', y, x)]);
  if (abortedAt === 0) throw new Error('no DeadlockError: the crossing was not detected');
  return abortedAt - closedAt;
}

export async function measureHistoryFile(): Promise<HistoryFileResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-history-'));
  let file: Daemon | undefined;
  let memory: Daemon | undefined;
  const clients: Client[] = [];
  try {
    [file, memory] = await Promise.all([
      startDaemon(['--log-level', 'warn', '--history-file', join(dir, 'history.sqlite')]),
      startDaemon(['--log-level', 'warn', '--history-file', ':memory:']),
    ]);
    const sdk = async (d: Daemon) => {
      const dd = await connect({ url: d.url, service: 'bench', connectTimeoutMs: 30_000 });
      clients.push(dd);
      return dd;
    };
    const [onFile, inMemory] = await Promise.all([sdk(file), sdk(memory)]);
    const fileMs: number[] = [];
    const memoryMs: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      // alternate which goes first, so neither always runs right after the other's GC
      if (rep % 2 === 0) {
        fileMs.push(await crossOnce(onFile, rep));
        memoryMs.push(await crossOnce(inMemory, rep));
      } else {
        memoryMs.push(await crossOnce(inMemory, rep));
        fileMs.push(await crossOnce(onFile, rep));
      }
      if (rep % 20 === 19) progress(`  ${rep + 1}/${REPS}`);
    }
    const medianMs = { file: median(fileMs), memory: median(memoryMs) };
    return { reps: REPS, fileMs, memoryMs, medianMs, ratio: medianMs.file / medianMs.memory };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await cleanup(file, memory);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function historyFileRows(r: HistoryFileResult): Row[] {
  const s = '10. history file vs memory';
  return [
    infoRow(s, `cycle → DeadlockError, history in a SQLite file (n=${r.reps})`, `median ${fmtMs(r.medianMs.file)}`),
    infoRow(s, `the same, --history-file :memory: (n=${r.reps})`, `median ${fmtMs(r.medianMs.memory)}`),
    goalRow(s, 'file / memory', fmtRatio(r.ratio), `≤ ${GOAL_RATIO}×`, r.ratio <= GOAL_RATIO),
  ];
}
