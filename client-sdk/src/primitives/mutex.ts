// A FIFO mutex. Not re-entrant: a second acquire by the holding owner waits like any other,
// and the daemon reports that self-deadlock (and aborts the wait) instead of it hanging forever.
import type { ResourceEvent } from '@deadlockd/proto';
import type { Held } from '../held.js';
import type { Owner, Rec } from '../model.js';
import type { WaitOptions } from '../waiter.js';
import { QueuedPrimitive, type Request } from './queue.js';

export class Mutex extends QueuedPrimitive {
  private holder: Rec | null = null;

  get locked(): boolean {
    return this.holder !== null;
  }

  acquire(opts?: WaitOptions): Promise<Held> {
    return this.acquireRequest(NO_SHAPE, opts, Mutex.prototype.acquire);
  }

  declaration(): ResourceEvent {
    return { type: 'resource', resource: this.id, kind: 'mutex', scope: 'local', fifo: true };
  }

  protected compatible(_owner: Owner, _req: Request): boolean {
    return this.holder === null;
  }

  protected take(rec: Rec): void {
    this.holder = rec;
  }

  protected give(rec: Rec): void {
    if (this.holder === rec) this.holder = null;
  }
}

const NO_SHAPE: Request = { mode: undefined, units: undefined };
