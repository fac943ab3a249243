// A real daemon child process whose safety-net sweep runs every 200 ms (so
// each test file can check, at its end, that the sweep never found what the
// incremental detection missed), plus SDK clients connected to it — directly
// or through another URL such as a delaying proxy.
import { connect, type Client, type ConnectOptions } from '@deadlockd/client';
import { cleanup, startDaemon, type Daemon } from './harness.js';
import { CONNECT_TIMEOUT_MS, STEP_MS, within } from './timing.js';

/** Sweep period for these tests: short, so a sweep surely runs after each scenario. */
const TEST_SWEEP_INTERVAL_MS = 200;

export function startSweepingDaemon(extraArgs: string[] = []): Promise<Daemon> {
  return startDaemon(['--sweep-interval-ms', String(TEST_SWEEP_INTERVAL_MS), ...extraArgs]);
}

/**
 * connect() is fail-open (it resolves even without a daemon); a test without
 * detection would just hang, so a client that did not get its welcome fails here.
 */
export async function connectSdk(url: string, service: string, options: Partial<ConnectOptions> = {}): Promise<Client> {
  const dd = await connect({ url, service, connectTimeoutMs: CONNECT_TIMEOUT_MS, ...options });
  if (!dd.connected) {
    await closeSdk(dd);
    throw new Error(`SDK '${service}' did not connect to ${url}`);
  }
  return dd;
}

/** Closes a client; a close that hangs (after a failed test) must not hang the suite. */
export async function closeSdk(dd: Client | undefined): Promise<void> {
  if (dd) await within(STEP_MS, 'the SDK to close', dd.close()).catch(() => {});
}

export interface WatchedSession {
  daemon: Daemon;
  dd: Client;
  close(): Promise<void>;
}

/** One sweeping daemon and one SDK client in the test process. */
export async function startWatchedSession(service: string): Promise<WatchedSession> {
  const daemon = await startSweepingDaemon();
  let dd: Client;
  try {
    dd = await connectSdk(daemon.url, service);
  } catch (e) {
    const logs = daemon.logs();
    await cleanup(daemon);
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
  return {
    daemon,
    dd,
    close: async () => {
      await closeSdk(dd);
      await cleanup(daemon);
    },
  };
}

/** Every 'deadlock detected' line the daemon logged so far (pino JSON on stdout). */
export function deadlockLogLines(daemon: Daemon): string[] {
  return daemon
    .logs(Number.MAX_SAFE_INTEGER)
    .split('\n')
    .filter((line) => line.includes('"msg":"deadlock detected"'));
}
