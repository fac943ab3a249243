// The stall probe of the daemon-process rows: a client pings every 2 ms and
// the longest ping → pong (ws answers a ping on the daemon's event loop, after
// the frames ahead of it) is the longest the loop did not answer.
import type { ClientEvent } from '@deadlockd/proto';
import type { RawClient } from './raw-client.js';
import { sleep } from './stats.js';

/** Sends `events` in frames of 2,000 and waits until the daemon applied them (any error frame fails). */
export async function send(c: RawClient, events: ClientEvent[], seq: { n: number }): Promise<void> {
  for (let i = 0; i < events.length; i += 2_000) c.send({ type: 'events', seq: seq.n++, events: events.slice(i, i + 2_000) });
  await c.sync();
  if (c.errors.length > 0) throw new Error(`daemon rejected: ${JSON.stringify(c.errors[0])}`);
}

/** Longest ping → pong over `ms`, pinging every 2 ms (one ping in flight at a time). */
export async function worstPong(c: RawClient, ms: number, during?: () => Promise<void>): Promise<number> {
  let worst = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t = performance.now();
      await c.sync();
      worst = Math.max(worst, performance.now() - t);
      await sleep(2);
    }
  })();
  const t0 = performance.now();
  if (during) await during();
  const left = ms - (performance.now() - t0);
  if (left > 0) await sleep(left);
  stop = true;
  await loop;
  return worst;
}

export const median3 = async (f: () => Promise<number>): Promise<number> => {
  const xs = [await f(), await f(), await f()].sort((a, b) => a - b);
  return xs[1] as number;
};

