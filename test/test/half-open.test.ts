// A link that goes silent without closing: the daemon's machine or the
// client's vanished, or a partition. Neither side's TCP notices, so without
// heartbeats the daemon would keep the client's edges forever and the SDK would
// report into the void with detection silently off. A freezing TCP proxy
// between a real SDK and a real daemon (--heartbeat-ms 2000) stops forwarding
// anything while keeping both sockets open. Expected: the daemon cuts the
// connection off for a missed pong, the SDK takes the silence for a dead link
// and reconnects, and the session resumes with its state.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@deadlockd/client';
import { cleanup, startDaemon, type Daemon } from '../src/harness.js';
import { startTcpProxy, type TcpProxy } from '../src/tcp-proxy.js';
import { STEP_MS, TEST_TIMEOUT, until } from '../src/timing.js';
import { closeSdk, connectSdk } from '../src/watched-session.js';

// A live peer must pong within one interval, and here the pong crosses this (loaded) test
// process twice, through the proxy, while the daemon is another process whose "my timer fired
// late" guard cannot see our stalls: 2 s (500 ms was missed at a load average of 20 on 2 cores).
// The SDK gives up on a silent daemon after three intervals; the test waits on what happens,
// never for a time.
const HEARTBEAT_MS = 2_000;

interface ClientRow {
  id: string;
  service: string;
  connected: boolean;
}

describe('half-open links: heartbeats on both sides', () => {
  let daemon: Daemon;
  let proxy: TcpProxy;
  let dd: Client | undefined;
  before(async () => {
    daemon = await startDaemon(['--heartbeat-ms', String(HEARTBEAT_MS), '--disconnect-grace-ms', '60000']);
    proxy = await startTcpProxy(daemon.port);
  });
  after(async () => {
    await closeSdk(dd);
    await proxy?.close();
    await cleanup(daemon);
  });

  test('a frozen link: the daemon cuts it off, the SDK reconnects, the session resumes with its holds', TEST_TIMEOUT, async () => {
    const warnings: string[] = [];
    dd = await connectSdk(`ws://127.0.0.1:${proxy.port}/v1/stream`, 'frozen-link', {
      reconnect: { minDelayMs: 10, maxDelayMs: 50 },
      reportAfterMs: 0,
      logger: { warn: (m: string) => warnings.push(m) },
    });
    const clients = async () => ((await (await fetch(`${daemon.httpUrl}/v1/clients`)).json()) as { clients: ClientRow[] }).clients;
    const mine = async () => (await clients()).filter((c) => c.service === 'frozen-link');
    const holdsOf = async (session: string) => {
      const graph = (await (await fetch(`${daemon.httpUrl}/v1/graph`)).json()) as { edges: { target: string; attributes: { kind: string } }[] };
      return graph.edges.filter((e) => e.attributes.kind === 'holds' && e.target.startsWith(`o:${session}/`)).length;
    };
    const [before] = await until(STEP_MS, 'the SDK to be listed as connected', async () => {
      const rows = await mine();
      return rows.length === 1 && rows[0]!.connected ? rows : undefined;
    });
    assert.ok(before);
    const client = dd;
    // a task that holds a mutex until the end of the test
    let finish!: () => void;
    const holding = new Promise<void>((r) => (finish = r));
    let holds!: () => void;
    const holdsNow = new Promise<void>((r) => (holds = r));
    const task = client.task('holder', async () => {
      const h = await client.mutex('kept').acquire();
      holds();
      await holding;
      h.release();
    });
    await holdsNow;
    await until(STEP_MS, 'the hold to reach the daemon', async () => ((await holdsOf(before.id)) === 1 ? true : undefined));

    // the link was healthy until now: no cut-off happened before the freeze
    assert.doesNotMatch(daemon.logs(Number.MAX_SAFE_INTEGER), /missed its pong/);
    assert.deepEqual(warnings, []);
    proxy.freeze();
    await daemon.waitForLog(/missed its pong/);
    await until(STEP_MS, 'the SDK to take the silent link for dead', async () => (client.connected ? undefined : true), 5);
    assert.ok(warnings.some((w) => /no ping or frame from the daemon/.test(w)), warnings.join('\n'));
    await until(STEP_MS, 'the SDK to reconnect', async () => (client.connected ? true : undefined), 5);

    await daemon.waitForLog(/client resumed/);
    const after = await until(STEP_MS, 'the resumed session to be listed as connected', async () => {
      const rows = await mine();
      return rows.length === 1 && rows[0]!.connected ? rows : undefined;
    });
    assert.equal(after[0]!.id, before.id, 'the same session');
    // the resync snapshot follows the resume: its hold is known again (it was never lost: the
    // session was kept for the grace period, and the snapshot replaced it with the same state)
    await until(STEP_MS, 'its hold to be known after the resync', async () => ((await holdsOf(before.id)) === 1 ? true : undefined));
    finish();
    await task;
  });
});
