// Hang guards. These are not speed assertions: the limits are far above what
// any run needs, and exist so a missed deadlock fails with a message that says
// what was stuck instead of a bare test timeout.

/**
 * Failsafe for one step of a scenario (a frame, a log line, a reconnect, a round to finish).
 * Sized for a machine ten times slower than an idle laptop (a 2-core CI box under load): a step
 * that takes a second idle must still pass, and every wait ends as soon as its condition holds.
 */
export const STEP_MS = 30_000;

/**
 * connectTimeoutMs for the SDK clients of tests and services: connect() is fail-open, so a
 * welcome that comes late on a loaded machine would silently mean a client without detection.
 */
export const CONNECT_TIMEOUT_MS = 30_000; // one step (STEP_MS)

/** node:test options for a scenario test: room for several slow steps, then a clear timeout. */
export const TEST_TIMEOUT = { timeout: 180_000 } as const;

/** node:test options for a before/after hook (a daemon or PostgreSQL to start or stop). */
export const HOOK_TIMEOUT = { timeout: 120_000 } as const;

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
 * rejects with a HangError naming `what` after `ms` (with `details()` appended). For state
 * another process reaches on its own schedule (a daemon noticing a socket close). The one
 * polling helper of the e2e tests and the fuzz/soak tools.
 */
export async function until<T>(ms: number, what: string, probe: () => Promise<T | undefined>, everyMs = 10, details?: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new HangError(`still waiting after ${ms} ms: ${what}${details ? `\n${details()}` : ''}`);
    await sleep(everyMs);
  }
}
