// The history survives a restart of the daemon (a real child process on a real
// SQLite file): deadlocks detected before it are listed after it, grouped
// counts go on, the limits given at the next start prune it. A deadlock that
// was open when the daemon stopped is history (interrupted), never a live
// cycle: the live state comes back from the clients' snapshots, where the same
// stuck tasks are found again as a new deadlock of the same signature.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@deadlockd/client';
import { cleanup, startDaemon, type Daemon } from '../src/harness.js';
import { runCycleRound } from '../src/cycle-round.js';
import { signal } from '../src/retried-task.js';
import { STEP_MS, TEST_TIMEOUT, until } from '../src/timing.js';
import { closeSdk, connectSdk } from '../src/watched-session.js';

interface Entry {
  id: string;
  status: string;
  signature: string;
  services: string[];
}
interface Group {
  signature: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  latestId: string;
  latest: Entry | null;
}
interface GraphNode {
  attributes: { deadlocks?: string[] };
}

const FAST_RECONNECT = { minDelayMs: 20, maxDelayMs: 200 };

async function getJson<T>(daemon: Daemon, path: string): Promise<T> {
  const res = await fetch(`${daemon.httpUrl}${path}`);
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
}

/**
 * Two tasks take two mutexes in opposite orders, once (the same code every round: one
 * signature; the mutex names differ by a number only). The daemon aborts one; it retries and
 * both complete. Resolves with the deadlock's id.
 */
async function crossOnce(dd: Client, round: number): Promise<string> {
  const [x, y] = [dd.mutex(`account:${round}:x`), dd.mutex(`account:${round}:y`)];
  const { deadlocks, completed } = await runCycleRound(dd, [
    { name: 'transfer a', first: x, second: y },
    { name: 'transfer b', first: y, second: x },
  ], round);
  assert.equal(deadlocks.length, 1, 'one side was aborted, once');
  assert.equal(completed, 2, 'both complete after the retry');
  return deadlocks[0]!.deadlockId;
}

/** Two tasks that may not be aborted cross: the deadlock stays (unresolvable); they stay stuck. */
function crossStuck(dd: Client): void {
  const [x, y] = [dd.mutex('ledger:x'), dd.mutex('ledger:y')];
  const bothHold = { a: signal(), b: signal() };
  const side = (me: 'a' | 'b', first: typeof x, second: typeof x) =>
    dd.task(`stuck ${me}`, { abortable: false }, async () => {
      await first.acquire();
      bothHold[me].fire();
      await Promise.all([bothHold.a.promise, bothHold.b.promise]);
      await second.acquire();
    });
  // they end only when the client closes (after the test): nothing awaits them
  side('a', x, y).catch(() => {});
  side('b', y, x).catch(() => {});
}

const resolved = (daemon: Daemon, id: string) =>
  until(STEP_MS, `deadlock ${id} to be resolved in the history`, async () => {
    const e = await getJson<Entry>(daemon, `/v1/deadlocks/${id}`).catch(() => undefined);
    return e?.status === 'resolved' ? e : undefined;
  }, 20, () => daemon.logs());

describe('durable history across a daemon restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deadlockd-restart-'));
  const file = join(dir, 'state', 'history.sqlite');
  let daemon: Daemon;
  const clients: Client[] = [];
  before(async () => {
    daemon = await startDaemon(['--history-file', file]);
  });
  after(async () => {
    await Promise.all(clients.map(closeSdk));
    await cleanup(daemon);
    rmSync(dir, { recursive: true, force: true });
  });

  test('listed after the restart, counts go on, open deadlocks come back interrupted, limits prune', TEST_TIMEOUT, async () => {
    const port = String(daemon.port);
    const bank = await connectSdk(daemon.url, 'bank', { reconnect: FAST_RECONNECT });
    const ledger = await connectSdk(daemon.url, 'ledger', { reconnect: FAST_RECONNECT });
    clients.push(bank, ledger);

    const before: string[] = [];
    for (let round = 1; round <= 3; round++) before.push(await crossOnce(bank, round));
    for (const id of before) await resolved(daemon, id);
    crossStuck(ledger);
    const stuck = await until(STEP_MS, 'the stuck deadlock to be a current cycle', async () => {
      const { cycles } = await getJson<{ cycles: Entry[] }>(daemon, '/v1/cycles');
      return cycles.find((c) => c.services.includes('ledger') && c.status === 'unresolvable');
    }, 20, () => daemon.logs());
    const groupsBefore = await getJson<{ groups: Group[] }>(daemon, '/v1/deadlocks?group=signature');
    const bankGroup = groupsBefore.groups.find((g) => g.latestId === before[2]);
    assert.equal(bankGroup?.count, 3, 'three rounds of the same code: one group');

    // ---- a crash (kill -9), then a new daemon on the same port and file; the SDKs reconnect and
    // send their snapshots. Every record was committed when it was made: nothing is lost.
    await daemon.kill9();
    daemon = await startDaemon(['--port', port, '--history-file', file]);
    await daemon.waitForLog(/"interrupted":1,.*marked interrupted/);

    const listed = await getJson<{ total: number; deadlocks: Entry[] }>(daemon, '/v1/deadlocks');
    // The SDKs reconnect on their own: on a loaded machine the ledger's snapshot may already have
    // brought the stuck deadlock back, as a new one (checked below), before this listing.
    const old = new Set([stuck.id, ...before]);
    const oldListed = listed.deadlocks.filter((d) => old.has(d.id));
    const found = listed.deadlocks.filter((d) => !old.has(d.id));
    assert.deepEqual(oldListed.map((d) => d.id), [stuck.id, ...[...before].reverse()], 'every deadlock of before the restart, newest first');
    assert.ok(found.length <= 1 && found.every((d) => d.services.includes('ledger') && d.status !== 'interrupted'), `only the stuck deadlock found again may be new: ${JSON.stringify(found)}`);
    assert.equal(listed.total, 4 + found.length);
    assert.deepEqual(oldListed.map((d) => d.status), ['interrupted', 'resolved', 'resolved', 'resolved']);
    for (const id of before) assert.equal((await getJson<Entry>(daemon, `/v1/deadlocks/${id}`)).signature, bankGroup?.signature);

    // the stuck tasks are still stuck: their client's snapshot makes them a new deadlock, found again
    const again = await until(STEP_MS, 'the snapshot to bring the stuck deadlock back as a new one', async () => {
      const { cycles } = await getJson<{ cycles: Entry[] }>(daemon, '/v1/cycles');
      return cycles.find((c) => c.services.includes('ledger'));
    }, 20, () => daemon.logs());
    assert.notEqual(again.id, stuck.id);
    assert.equal(again.signature, stuck.signature);
    for (const d of found) assert.equal(d.id, again.id, 'the new deadlock listed after the restart was the stuck one found again');
    // nothing served names the old one as live: not a cycle, not on a node of the graph
    const { cycles } = await getJson<{ cycles: Entry[] }>(daemon, '/v1/cycles');
    assert.deepEqual(cycles.map((c) => c.id), [again.id]);
    const graph = await getJson<{ nodes: GraphNode[] }>(daemon, '/v1/graph');
    const named = new Set(graph.nodes.flatMap((n) => n.attributes.deadlocks ?? []));
    assert.deepEqual([...named], [again.id], 'graph nodes name only the live deadlock');
    assert.equal((await getJson<Entry>(daemon, `/v1/deadlocks/${stuck.id}`)).status, 'interrupted');

    // grouped counts go on: one more round of the same code, and the stuck one found again
    await until(STEP_MS, 'the bank SDK to be connected again', async () => (bank.connected ? true : undefined));
    const after = await crossOnce(bank, 4);
    await resolved(daemon, after);
    const groups = await getJson<{ total: number; groups: Group[] }>(daemon, '/v1/deadlocks?group=signature');
    const byCode = groups.groups.find((g) => g.signature === bankGroup?.signature);
    assert.equal(byCode?.count, 4);
    assert.equal(byCode?.firstSeen, bankGroup?.firstSeen, 'first seen before the restart');
    assert.equal(byCode?.latestId, after);
    assert.equal(byCode?.latest?.id, after);
    const stuckGroup = groups.groups.find((g) => g.signature === stuck.signature);
    assert.equal(stuckGroup?.count, 2, 'the stuck deadlock and its return after the restart');
    assert.equal(stuckGroup?.latestId, again.id);

    // ---- restart with smaller limits: the oldest entries leave the file, the groups are bounded too.
    // The stuck client goes first (its deadlock ends), so no snapshot brings it back a third time.
    await closeSdk(ledger);
    await resolved(daemon, again.id);
    await daemon.stop();
    daemon = await startDaemon(['--port', port, '--history-file', file, '--history-size', '2']);
    const pruned = await getJson<{ total: number; deadlocks: Entry[] }>(daemon, '/v1/deadlocks');
    assert.equal(pruned.total, 2);
    assert.deepEqual(pruned.deadlocks.map((d) => d.id), [after, again.id]);
    const fewer = await getJson<{ total: number; groups: Group[] }>(daemon, '/v1/deadlocks?group=signature');
    assert.ok(fewer.total <= 2, `${fewer.total} groups`);
    assert.equal(fewer.groups.find((g) => g.signature === bankGroup?.signature)?.count, 4, 'a group keeps its count after its oldest entries left');
  });

  test('a second daemon on the same history file is refused with a clear message (exit 2)', TEST_TIMEOUT, async () => {
    await assert.rejects(
      startDaemon(['--history-file', file]),
      /exited before listening \(code 2[\s\S]*is in use by another deadlockd/,
    );
  });
});
