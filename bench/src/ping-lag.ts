// The stall probe of the daemon-process rows: a client pings every 2 ms and
// the longest ping → pong (ws answers a ping on the daemon's event loop, after
// the frames ahead of it) is the longest the loop did not answer. The client is
// a process of its own (pinger-child.ts): in the bench's process, its pongs
// waited for the bench's own work (a big report or graph it had asked for).
import { fork, type ChildProcess } from 'node:child_process';
import type { ClientEvent } from '@deadlockd/proto';
import { PINGER_CHILD } from './paths.js';
import type { PingerCommand, PingerReply } from './pinger-child.js';
import type { RawClient } from './raw-client.js';
import { sleep } from './stats.js';

/** Sends `events` in frames of 2,000 and waits until the daemon applied them (any error frame fails). */
export async function send(c: RawClient, events: ClientEvent[], seq: { n: number }): Promise<void> {
  for (let i = 0; i < events.length; i += 2_000) c.send({ type: 'events', seq: seq.n++, events: events.slice(i, i + 2_000) });
  await c.sync();
  if (c.errors.length > 0) throw new Error(`daemon rejected: ${JSON.stringify(c.errors[0])}`);
}

const PINGER_TIMEOUT_MS = 30_000;

/** The pinging connection, in a process of its own (pinger-child.ts). */
export class Pinger {
  private readonly waiting: { op: PingerReply['op']; resolve: (r: PingerReply) => void }[] = [];
  private failure: string | null = null;

  private constructor(private readonly proc: ChildProcess) {
    proc.on('message', (r: PingerReply) => {
      if (r.op === 'failed') this.failure = r.message;
      const i = this.waiting.findIndex((w) => w.op === r.op || r.op === 'failed');
      if (i >= 0) this.waiting.splice(i, 1)[0]?.resolve(r);
    });
  }

  static async start(url: string): Promise<Pinger> {
    const p = new Pinger(fork(PINGER_CHILD, [url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await p.next('ready');
    return p;
  }

  private next(op: PingerReply['op']): Promise<PingerReply> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`pinger: no '${op}' within ${PINGER_TIMEOUT_MS} ms`)), PINGER_TIMEOUT_MS);
      this.waiting.push({
        op,
        resolve: (r) => {
          clearTimeout(t);
          if (r.op === 'failed') reject(new Error(`pinger failed: ${r.message}`));
          else resolve(r);
        },
      });
    });
  }

  async begin(): Promise<void> {
    const started = this.next('started');
    this.proc.send({ op: 'start' } satisfies PingerCommand);
    await started;
  }

  async end(): Promise<number> {
    const worst = this.next('worst');
    this.proc.send({ op: 'stop' } satisfies PingerCommand);
    const r = await worst;
    if (r.op !== 'worst') throw new Error(`pinger: ${this.failure ?? 'no figure'}`);
    return r.ms;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      this.proc.once('exit', () => resolve());
      this.proc.send({ op: 'exit' } satisfies PingerCommand);
      setTimeout(() => this.proc.kill('SIGKILL'), 5_000).unref();
    });
  }
}

/** Longest ping → pong over `ms` (one ping in flight at a time, every 2 ms), with `during` run meanwhile. */
export async function worstPong(pinger: Pinger, ms: number, during?: () => Promise<void>): Promise<number> {
  await pinger.begin();
  const t0 = performance.now();
  if (during) await during();
  const left = ms - (performance.now() - t0);
  if (left > 0) await sleep(left);
  return pinger.end();
}

export const median3 = async (f: () => Promise<number>): Promise<number> => {
  const xs = [await f(), await f(), await f()].sort((a, b) => a - b);
  return xs[1] as number;
};

