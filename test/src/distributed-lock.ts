// A distributed lock the way an app takes one with the SDK, on the harness lock server: the
// real acquire runs inside dd.resource().acquire, so the wait is reported while it pends and the
// hold once it is granted; a grant that arrives after this wait was aborted is given back.
import type { Client } from '@deadlockd/client';
import type { LockClient } from './lock-server.js';

/** Takes `name`; resolves with its release: the real lock first, then the report (DESIGN §8). */
export async function takeDistributed(dd: Client, locks: LockClient, name: string): Promise<() => void> {
  const held = await dd.resource(name).acquire((signal) => locks.acquire(name, signal), { dispose: () => locks.release(name) });
  return () => {
    locks.release(name);
    held.release();
  };
}
