// Tasks that take their locks and stay parked until the scene ends, so a
// page has a standing graph to draw. Every pending acquire listens to one
// AbortSignal; end() releases and aborts everything.
import type { Client } from '@deadlockd/client';
import { Barrier } from './barrier.js';
import { STEP_MS, within } from './timing.js';

export type Lock = { acquire(opts?: { signal?: AbortSignal }): Promise<{ release(): void }> };

export class Scene {
  private readonly stop = new AbortController();
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  private readonly tasks: Promise<unknown>[] = [];

  /** a task that takes `locks` in order; resolves once it holds the first `heldFirst` of them */
  park(dd: Client, name: string, locks: Lock[], opts: { abortable?: boolean; heldFirst?: number; between?: () => Promise<void> } = {}): Promise<void> {
    let signalHeld!: () => void;
    const held = new Promise<void>((r) => (signalHeld = r));
    const heldFirst = opts.heldFirst ?? locks.length;
    const run = dd.task(name, { abortable: opts.abortable ?? true }, async () => {
      const hs: { release(): void }[] = [];
      try {
        for (const [i, l] of locks.entries()) {
          if (i === heldFirst) {
            signalHeld();
            await opts.between?.();
          }
          hs.push(await l.acquire({ signal: this.stop.signal }));
        }
        if (heldFirst >= locks.length) signalHeld();
        await this.gate;
      } finally {
        for (const h of hs.reverse()) h.release();
      }
    });
    this.tasks.push(run.catch(() => {}));
    return held;
  }

  /**
   * A standing deadlock nobody may be aborted from: task i holds locks[i] and
   * then waits for locks[i + 1] (the last for locks[0]). Resolves once every
   * task holds its first lock (the waits follow at once).
   */
  async ring(dd: Client, names: string[], locks: Lock[]): Promise<void> {
    const meet = new Barrier(names.length);
    await Promise.all(
      names.map((name, i) =>
        this.park(dd, name, [locks[i]!, locks[(i + 1) % locks.length]!], { abortable: false, heldFirst: 1, between: () => meet.wait() }),
      ),
    );
  }

  async end(): Promise<void> {
    this.stop.abort();
    this.open();
    await within(STEP_MS, 'the parked tasks to end', Promise.all(this.tasks)).catch(() => {});
  }
}
