// A stand-in for a distributed lock client (Redlock, a database advisory lock):
// the examples run with nothing but the daemon. Same shape as the real thing:
// acquire(key, { signal }) resolves when the lock is yours, rejects if the
// signal aborts first; release(key) gives it back.
export class StandInLock {
  private readonly held = new Set<string>();
  private readonly queues = new Map<string, Array<() => void>>();

  acquire(key: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (!this.held.has(key)) {
      this.held.add(key);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const q = this.queues.get(key) ?? [];
      this.queues.set(key, q);
      const grant = () => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        q.splice(q.indexOf(grant), 1);
        reject(opts.signal?.reason);
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      q.push(grant);
    });
  }

  async release(key: string): Promise<void> {
    const next = this.queues.get(key)?.shift();
    if (next) next();
    else this.held.delete(key);
  }
}

export const redisLock = new StandInLock();
