// Helpers for scenario scripts that run as child processes (services/*.ts):
// meet other services at a barrier (via the harness, over IPC), and end by
// printing one final JSON line that the harness parses.
import type { BarrierMessage } from './process-barrier.js';

const waiting = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();

process.on('message', (msg: BarrierMessage) => {
  const w = waiting.get(msg.key);
  if (!w) return;
  waiting.delete(msg.key);
  if (msg.type === 'barrier-release') w.resolve();
  else if (msg.type === 'barrier-broken') w.reject(new Error(`barrier ${msg.key} broken: ${msg.reason}`));
});

/** Resolves when every service attached to the test's ProcessBarrier has reached `key`. */
export function barrier(key: string): Promise<void> {
  if (!process.send) return Promise.reject(new Error('barrier() needs an IPC channel (run me via runService)'));
  return new Promise((resolve, reject) => {
    waiting.set(key, { resolve, reject });
    process.send!({ type: 'barrier', key });
  });
}

/** Prints the result as the final stdout line and exits with `code`. */
function finish(result: unknown, code = 0): void {
  // exit only once the line is flushed, so the harness always gets it
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
}

/** Runs `main`; an uncaught failure prints `{ error }` and exits 1. */
export function runMain(main: () => Promise<unknown>): void {
  main().then(
    (result) => finish(result, 0),
    (e: unknown) => {
      const err = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
      process.stderr.write(`${err}\n`);
      finish({ error: err }, 1);
    },
  );
}

/** `--name value` pairs from argv; throws on a missing required one. */
export function argValue(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}
