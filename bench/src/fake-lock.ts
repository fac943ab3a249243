// A stand-in for a real distributed lock (think Redis/Redlock) living in this
// process: FIFO, exclusive, and its acquire honours an AbortSignal the way a
// real client does. The cross-client latency run uses it under dd.resource(),
// so the SDK sees a real pending acquire it must abort.

interface Queued {
  resolve: () => void;
  reject: (err: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export class FakeLockService {
  private readonly locks = new Map<string, { held: boolean; queue: Queued[] }>();

  acquire(name: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    let l = this.locks.get(name);
    if (!l) this.locks.set(name, (l = { held: false, queue: [] }));
    if (!l.held) {
      l.held = true;
      return Promise.resolve();
    }
    const lock = l;
    return new Promise((resolve, reject) => {
      const q: Queued = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          lock.queue = lock.queue.filter((x) => x !== q);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', q.onAbort, { once: true });
      lock.queue.push(q);
    });
  }

  release(name: string): void {
    const l = this.locks.get(name);
    if (!l?.held) throw new Error(`fake lock '${name}' is not held`);
    const next = l.queue.shift();
    if (!next) {
      l.held = false;
      return;
    }
    next.signal.removeEventListener('abort', next.onAbort);
    next.resolve();
  }
}
