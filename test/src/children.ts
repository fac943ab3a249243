// Registry of every child process the e2e harness starts, so a test can
// always kill what it spawned (after hooks, failures, timeouts) and a crashed
// test runner never leaves a daemon listening behind it.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

export function track(proc: ChildProcess): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
}

export function hasExited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** Resolves once `proc` has exited (immediately if it already has). */
export function waitForExit(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (hasExited(proc)) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** SIGKILL every child still running and wait until they are gone. */
export async function killAllChildren(): Promise<void> {
  const procs = [...live];
  for (const p of procs) {
    if (!hasExited(p)) p.kill('SIGKILL');
  }
  await Promise.all(procs.map(waitForExit));
}

// Last resort: if the test process exits without running its after hooks,
// do not leave children behind. Only synchronous work is possible here.
process.once('exit', () => {
  for (const p of live) {
    if (!hasExited(p)) p.kill('SIGKILL');
  }
});
