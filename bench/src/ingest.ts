// 1. Ingest rate over a real WebSocket: the daemon runs as a child process
// (the CLI), a raw `ws` client sends the workload of ingest-workload.ts as
// pre-serialized frames, and the clock stops when the barrier's `abort`
// arrives — i.e. when the daemon has applied (and searched after) every event.
// Batched (100 events per frame) and unbatched (1 per frame) alternate on the
// same daemon; each run's size is set from the previous run's rate so that
// every run lasts about the same time.
import type { ServerFrame } from '@deadlockd/proto';
import { startDaemon } from '@deadlockd/e2e/harness';
import { progress } from './child.js';
import { barrier, declarations, EVENTS_PER_UNIT, frames, workload } from './ingest-workload.js';
import { SIZES } from './mode.js';
import { RawClient } from './raw-client.js';
import { alternate, median } from './stats.js';

interface IngestSide {
  eventsPerFrame: number;
  /** median events/s over the rounds */
  eventsPerSecond: number;
  samples: number[];
  eventsPerRun: number[];
}

export interface IngestResult {
  batched: IngestSide;
  single: IngestSide;
  rounds: number;
  /** batched / single */
  ratio: number;
}

async function oneRun(wsUrl: string, perFrame: number, units: number): Promise<{ events: number; seconds: number }> {
  const client = await RawClient.connect(wsUrl, `bench-ingest-${perFrame}`);
  try {
    client.send({ type: 'events', seq: 0, events: declarations() });
    const timed = [...workload(units), ...barrier()];
    const payload = frames(timed, perFrame, 1);
    const aborted = client.next((f) => f.type === 'abort');
    const t0 = performance.now();
    for (const f of payload) client.send(f);
    const abort = (await aborted) as Extract<ServerFrame, { type: 'abort' }>;
    const seconds = (performance.now() - t0) / 1000;
    if (client.errors.length > 0)
      throw new Error(`daemon rejected ${client.errors.length} events, first: ${JSON.stringify(client.errors[0])}`);
    // Behave like an SDK: the victim's wait ends, then the answer; then tidy up.
    const seq = payload.length + 1;
    client.send({ type: 'events', seq, events: [{ type: 'cancel', waitId: abort.waitId, reason: 'deadlock' }] });
    client.send({ type: 'abort_result', deadlock: abort.deadlock, waitId: abort.waitId, result: 'aborted' });
    client.send({ type: 'events', seq: seq + 1, events: [{ type: 'end', owner: 'barrier-x' }, { type: 'end', owner: 'barrier-y' }] });
    return { events: timed.length, seconds };
  } finally {
    await client.close();
  }
}

export async function measureIngest(): Promise<IngestResult> {
  const daemon = await startDaemon(['--log-level', 'warn']);
  progress(`ingest: daemon pid ${daemon.proc.pid} at ${daemon.httpUrl}`);
  try {
    const sides = [
      { perFrame: 100, units: 4_000, samples: [] as number[], sizes: [] as number[] },
      { perFrame: 1, units: 1_000, samples: [] as number[], sizes: [] as number[] },
    ];
    const runs = sides.map((side) => async () => {
      const { events, seconds } = await oneRun(daemon.url, side.perFrame, side.units);
      const rate = events / seconds;
      // size the next run of this side to last about SIZES.ingestTargetMs
      side.units = Math.max(200, Math.round((rate * SIZES.ingestTargetMs) / 1000 / EVENTS_PER_UNIT));
      side.sizes.push(events);
      return rate;
    });
    const [b, s] = await alternate(runs, SIZES.ingestRounds);
    const out = (i: number, samples: number[]): IngestSide => ({
      eventsPerFrame: sides[i]?.perFrame as number,
      eventsPerSecond: median(samples),
      samples,
      eventsPerRun: (sides[i]?.sizes as number[]).slice(1),
    });
    const batched = out(0, b as number[]);
    const single = out(1, s as number[]);
    return { batched, single, rounds: SIZES.ingestRounds, ratio: batched.eventsPerSecond / single.eventsPerSecond };
  } finally {
    await daemon.stop();
  }
}
