// A task started by `spawn()`, and `join()`: a reported wait on the task's completion.
import { abortReason } from './errors.js';
import { Rec, type Owner } from './model.js';
import type { Runtime } from './runtime.js';
import { Waiter, type WaitOptions } from './waiter.js';

/** A task started by `spawn()`: others can `join()` it (a reported wait on its completion). */
export class TaskHandle<T> {
  readonly id: string;
  private state: 'running' | 'fulfilled' | 'rejected' = 'running';
  private value: T | undefined;
  private error: unknown;
  private readonly joiners = new Set<Waiter<T>>();

  constructor(
    private readonly rt: Runtime,
    readonly owner: Owner,
    fn: () => T | Promise<T>,
  ) {
    this.id = owner.id;
    rt.owners.run(owner, fn).then(
      (v) => this.settle('fulfilled', v, undefined),
      (e: unknown) => this.settle('rejected', undefined, e),
    );
  }

  get name(): string {
    return this.owner.name;
  }

  get done(): boolean {
    return this.state !== 'running';
  }

  /**
   * Wait for the task to finish; resolves with its result or rejects with its error. While it runs,
   * the caller's owner has a reported wait on this task, so a task waiting for a lock its joiner
   * holds is a deadlock the daemon can see.
   */
  join(opts?: WaitOptions): Promise<T> {
    if (this.state === 'fulfilled') return Promise.resolve(this.value as T);
    if (this.state === 'rejected') return Promise.reject(this.error);
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const rt = this.rt;
    const site = rt.captureSite(TaskHandle.prototype.join);
    const rec = new Rec({ kind: 'wait', owner: rt.owners.current(), resource: null, task: this.owner, waitId: rt.newWaitId(), site });
    rt.reporter.begin(rec);
    const w = new Waiter<T>(rt, rec, `task ${this.owner.name}`, opts, (x) => this.joiners.delete(x));
    this.joiners.add(w);
    return w.promise;
  }

  private settle(state: 'fulfilled' | 'rejected', value: T | undefined, error: unknown): void {
    this.state = state;
    this.value = value;
    this.error = error;
    // `end` first; the daemon drops the waits on this task itself, so the joins send nothing
    this.rt.reporter.ownerEnded(this.owner);
    const joiners = [...this.joiners];
    this.joiners.clear();
    for (const w of joiners) {
      if (state === 'fulfilled') w.complete(value as T);
      else w.fail(error);
    }
  }
}
