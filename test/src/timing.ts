// Hang guards. These are not speed assertions: the limits are far above what
// any run needs, and exist so a missed deadlock fails with a message that says
// what was stuck instead of a bare test timeout.

class HangError extends Error {
  override name = 'HangError';
}

/**
 * Resolves/rejects like `promise`, or rejects with a HangError naming `what`
 * after `ms`. `details` is called only on a hang, to append context (logs).
 */
export function within<T>(ms: number, what: string, promise: Promise<T>, details?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const extra = details ? `\n${details()}` : '';
      reject(new HangError(`still waiting after ${ms} ms: ${what}${extra}`));
    }, ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` every `everyMs` until it returns a value other than undefined, or
 * rejects with a HangError naming `what` after `ms`. For state another process
 * reaches on its own schedule (a daemon noticing a socket close).
 */
export async function until<T>(ms: number, what: string, probe: () => Promise<T | undefined>, everyMs = 10): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new HangError(`still waiting after ${ms} ms: ${what}`);
    await sleep(everyMs);
  }
}
