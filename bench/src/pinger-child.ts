// The stall probe's own process (ping-lag.ts): one connection that pings the daemon every
// 2 ms while the parent says so, and reports the longest ping → pong. In a process of its own
// so that what the bench itself does meanwhile (parsing a 30k-member deadlock report or a
// 4 MiB graph it asked for, serializing frames) cannot delay a pong: the figure is the daemon's.
import { RawClient } from './raw-client.js';
import { sleep } from './stats.js';

export type PingerCommand = { op: 'start' } | { op: 'stop' } | { op: 'exit' };
export type PingerReply = { op: 'ready' } | { op: 'started' } | { op: 'worst'; ms: number } | { op: 'failed'; message: string };

const url = process.argv[2];
if (url === undefined) throw new Error('usage: pinger-child.js <ws-url>');
const reply = (r: PingerReply): void => void process.send?.(r);

const client = await RawClient.connect(url, 'bench-pinger');
let running: { stop: boolean; worst: number; loop: Promise<void> } | null = null;

async function pingLoop(state: { stop: boolean; worst: number }): Promise<void> {
  while (!state.stop) {
    const t = performance.now();
    await client.sync();
    state.worst = Math.max(state.worst, performance.now() - t);
    await sleep(2);
  }
}

process.on('message', (c: PingerCommand) => {
  void (async () => {
    if (c.op === 'start') {
      await client.sync(); // the link is up and answered once before the window opens
      const r = { stop: false, worst: 0, loop: Promise.resolve() };
      r.loop = pingLoop(r);
      running = r;
      reply({ op: 'started' });
    } else if (c.op === 'stop') {
      const r = running;
      running = null;
      if (!r) return reply({ op: 'failed', message: 'stop without start' });
      r.stop = true;
      await r.loop;
      reply({ op: 'worst', ms: r.worst });
    } else {
      await client.close();
      process.exit(0);
    }
  })().catch((err: unknown) => reply({ op: 'failed', message: String(err) }));
});
reply({ op: 'ready' });
