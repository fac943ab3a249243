// 3e. Per-frame cost against queue length, through the socket (the daemon is
// the CLI in its own process). One FIFO semaphore `hot` (capacity 3, 2 units
// held) has N queued waiters (10 vs 10k), each waiting for 2 units while it
// holds a mutex of its own — the shape in which every late change to `hot`
// makes the daemon search from its waiters. Then, timed, frames of exactly
// these shapes, each leaving the state as it found it:
//   waits:    [wait xa, wait xb] on hot, then [cancel xa, cancel xb] (a pair of frames);
//   lateHold: [hold y 1 unit of hot, release y]  (a hold the daemon learns of late);
//   capacity: [capacity 3 → 2, capacity 2 → 3]  (a decrease is checked);
//   grant:    [wait g for 1 unit of hot, grant it], then [release g]  (g also waits for
//             `gate`, held by a runner: a grant to an owner still blocked elsewhere).
// The clock covers B frames and a ping whose pong (ws answers it after the
// frames ahead of it were handled) says the daemon is done with them.
import { startDaemon } from '@deadlockd/e2e/harness';
import type { ClientEvent } from '@deadlockd/proto';
import { progress } from './child.js';
import { QUICK } from './mode.js';
import { RawClient } from './raw-client.js';
import { alternate, median } from './stats.js';

const SHAPES = ['waits', 'lateHold', 'capacity', 'grant'] as const;
type Shape = (typeof SHAPES)[number];

export interface QueueCostResult {
  queued: [number, number];
  /** µs per frame, by shape: [small queue, big queue] */
  usPerFrame: Record<Shape, [number, number]>;
  ratio: Record<Shape, number>;
}

const hot = (capacity: number): ClientEvent => ({ type: 'resource', resource: 'hot', kind: 'semaphore', scope: 'local', capacity, fifo: true });

async function setUp(url: string, waiters: number): Promise<RawClient> {
  const c = await RawClient.connect(url, `bench-queue-${waiters}`);
  const ev: ClientEvent[] = [hot(3), { type: 'resource', resource: 'own-x', kind: 'mutex', scope: 'local' }];
  ev.push({ type: 'hold', owner: 'h0', resource: 'hot', units: 1 }, { type: 'hold', owner: 'h1', resource: 'hot', units: 1 });
  ev.push({ type: 'hold', owner: 'xa', resource: 'own-x' });
  // g waits for gate (held by a runner) all along: a grant of hot to g goes to a blocked owner
  ev.push({ type: 'resource', resource: 'gate', kind: 'mutex', scope: 'local' }, { type: 'hold', owner: 'gk', resource: 'gate' });
  ev.push({ type: 'wait', waitId: 'gw', owner: 'g', resource: 'gate' });
  for (let i = 0; i < waiters; i++) {
    ev.push({ type: 'resource', resource: `own${i}`, kind: 'mutex', scope: 'local' });
    ev.push({ type: 'hold', owner: `q${i}`, resource: `own${i}` });
    ev.push({ type: 'wait', waitId: `qw${i}`, owner: `q${i}`, resource: 'hot', units: 2 });
  }
  let seq = 0;
  for (let i = 0; i < ev.length; i += 5_000) c.send({ type: 'events', seq: seq++, events: ev.slice(i, i + 5_000) });
  await c.sync();
  if (c.errors.length > 0) throw new Error(`set-up rejected: ${JSON.stringify(c.errors[0])}`);
  return c;
}

function framesOf(shape: Shape, n: number): ClientEvent[][] {
  switch (shape) {
    case 'waits':
      return [
        [
          { type: 'wait', waitId: `a${n}`, owner: 'xa', resource: 'hot', units: 1 },
          { type: 'wait', waitId: `b${n}`, owner: 'xb', resource: 'hot', units: 1 },
        ],
        [
          { type: 'cancel', waitId: `a${n}` },
          { type: 'cancel', waitId: `b${n}` },
        ],
      ];
    case 'lateHold':
      return [[{ type: 'hold', owner: 'y', resource: 'hot', units: 1 }, { type: 'release', owner: 'y', resource: 'hot', units: 1 }]];
    case 'capacity':
      return [[hot(2), hot(3)]];
    case 'grant':
      return [
        [
          { type: 'wait', waitId: `g${n}`, owner: 'g', resource: 'hot', units: 1 },
          { type: 'grant', waitId: `g${n}` },
        ],
        [{ type: 'release', owner: 'g', resource: 'hot', units: 1 }],
      ];
  }
}

/** µs per frame of `shape`, over about `budgetMs`. */
async function time(c: RawClient, shape: Shape, budgetMs: number, state: { seq: number; n: number }): Promise<number> {
  const B = 20;
  let frames = 0;
  const t0 = performance.now();
  do {
    for (let i = 0; i < B; i++) for (const events of framesOf(shape, state.n++)) {
      c.send({ type: 'events', seq: state.seq++, events });
      frames++;
    }
    await c.sync();
  } while (performance.now() - t0 < budgetMs);
  if (c.errors.length > 0) throw new Error(`${shape} rejected: ${JSON.stringify(c.errors[0])}`);
  return ((performance.now() - t0) * 1000) / frames;
}

export async function measureQueueCost(): Promise<QueueCostResult> {
  const queued: [number, number] = [10, QUICK ? 2_000 : 10_000];
  const daemon = await startDaemon(['--log-level', 'warn']);
  try {
    const clients = [await setUp(daemon.url, queued[0]), await setUp(daemon.url, queued[1])];
    const states = clients.map(() => ({ seq: 1_000, n: 0 }));
    progress(`queue cost: ${queued.join(' and ')} waiters queued`);
    const usPerFrame = {} as Record<Shape, [number, number]>;
    const ratio = {} as Record<Shape, number>;
    for (const shape of SHAPES) {
      const [a, b] = await alternate(clients.map((c, i) => () => time(c, shape, QUICK ? 100 : 300, states[i] as { seq: number; n: number })), QUICK ? 3 : 7);
      usPerFrame[shape] = [median(a as number[]), median(b as number[])];
      ratio[shape] = median((b as number[]).map((x, r) => x / ((a as number[])[r] as number)));
    }
    await Promise.all(clients.map((c) => c.close()));
    return { queued, usPerFrame, ratio };
  } finally {
    await daemon.stop();
  }
}
