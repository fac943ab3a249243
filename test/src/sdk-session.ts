// One real daemon child process plus one SDK client in the test process:
// the setup of every single-service scenario file.
import { connect, type Client } from '@deadlockd/client';
import { cleanup, startDaemon, type Daemon } from './harness.js';
import { within } from './timing.js';

export interface SdkSession {
  daemon: Daemon;
  dd: Client;
  close(): Promise<void>;
}

export async function startSdkSession(service: string): Promise<SdkSession> {
  const daemon = await startDaemon();
  let dd: Client;
  try {
    dd = await connect({ url: daemon.url, service });
  } catch (e) {
    await cleanup(daemon);
    throw e;
  }
  if (!dd.connected) {
    // connect() is fail-open; a test without detection would just hang
    await dd.close().catch(() => {});
    const logs = daemon.logs();
    await cleanup(daemon);
    throw new Error(`SDK did not connect to ${daemon.url}\n${logs}`);
  }
  return {
    daemon,
    dd,
    close: async () => {
      // a close that hangs (e.g. after a failed test) must not hang the suite
      await within(5_000, 'the SDK to close', dd.close()).catch(() => {});
      await cleanup(daemon);
    },
  };
}
