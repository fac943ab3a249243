// One SDK client in a process of its own, for the two-process latency row (latency-processes.ts
// drives it over the IPC channel of child_process.fork). It runs one task per repetition that
// takes two shared resources (`dd.resource()`, SDK defaults) in the order the parent says. The
// real lock behind them is the parent's FakeLockService, asked over IPC (so it is one lock for
// both processes, and an acquire there honours the SDK's abort signal like a real client).
//
// Times are CLOCK_MONOTONIC (process.hrtime), which every process of the machine shares: the
// parent subtracts the closer's start in one process from the DeadlockError in the other.
// (performance.timeOrigin + now() is not: each process samples its own origin at start.)
import { connect, DeadlockError } from '@deadlockd/client';
import type { PeerCommand, PeerReply } from './latency-processes.js';

const url = process.argv[2];
const service = process.argv[3] ?? 'bench-latency-peer';
if (url === undefined) throw new Error('usage: latency-peer.js <ws-url> [service]');

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const reply = (r: PeerReply): void => void process.send?.(r);

/** The real lock, in the parent: one pending request per id. */
let nextLockId = 0;
const lockWaiters = new Map<number, () => void>();
function realAcquire(name: string, signal: AbortSignal): Promise<void> {
  const id = ++nextLockId;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      lockWaiters.delete(id);
      reply({ op: 'lock-abort', id });
      reject(signal.reason);
    };
    lockWaiters.set(id, () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
    signal.addEventListener('abort', onAbort, { once: true });
    reply({ op: 'lock', id, name });
  });
}
const realRelease = (name: string): void => reply({ op: 'unlock', name });

const dd = await connect({ url, service, reconnect: false, logger: { warn: (m: string) => process.stderr.write(`peer ${service}: ${m}\n`) } });
if (!dd.connected) throw new Error('SDK did not connect to the daemon');

async function take(name: string): Promise<() => void> {
  const h = await dd.resource(name).acquire((signal) => realAcquire(name, signal), { dispose: () => realRelease(name) });
  return () => {
    realRelease(name); // the app releases the real lock, then reports it
    h.release();
  };
}

/** One repetition's task: take `first`, say so, wait for the word, then take `second`. */
let goOn: (() => void) | null = null;
async function rep(i: number, first: string, second: string): Promise<void> {
  await dd.task(`peer-${service}-${i}`, async () => {
    const releaseFirst = await take(first);
    try {
      await new Promise<void>((resolve) => {
        goOn = resolve;
        reply({ op: 'holding', rep: i });
      });
      const t0 = now();
      try {
        const releaseSecond = await take(second);
        releaseSecond();
        reply({ op: 'done', rep: i, t0, deadlock: null });
      } catch (err) {
        if (!(err instanceof DeadlockError)) throw err;
        reply({ op: 'done', rep: i, t0, deadlock: now() });
      }
    } finally {
      releaseFirst();
    }
  });
}

process.on('message', (m: PeerCommand) => {
  switch (m.op) {
    case 'rep':
      rep(m.rep, m.first, m.second).catch((err: unknown) => reply({ op: 'failed', message: String((err as Error)?.stack ?? err) }));
      return;
    case 'go':
      goOn?.();
      goOn = null;
      return;
    case 'locked':
      lockWaiters.get(m.id)?.();
      lockWaiters.delete(m.id);
      return;
    case 'exit':
      void dd.close().then(() => process.exit(0));
      return;
  }
});
reply({ op: 'ready' });
