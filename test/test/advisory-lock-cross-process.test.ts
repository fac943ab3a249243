// Scenario 7 with a real distributed lock: two separate processes take PostgreSQL advisory locks
// (real ones, on a real server) in opposite orders. Neither process can see the cycle; the daemon
// must, and must abort the wait in only ONE of them — cancelling that pending pg_advisory_lock on
// the server for real — while the other proceeds. Both finish after the retry, and the money in
// the real table is conserved. PostgreSQL's own detector is set to 10 s so it cannot be the one
// that resolves it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type Postgres } from '../src/embedded-pg.js';
import { cleanup, describeService, runService, servicePath, type Daemon } from '../src/harness.js';
import { assertSweepMissedNothing, deadlockCounters } from '../src/prom-metrics.js';
import { startSweepingDaemon } from '../src/watched-session.js';
import { daemonDeadlockRecord, waitStacks } from '../src/deadlock-record.js';
import { ProcessBarrier } from '../src/process-barrier.js';
import { TEST_TIMEOUT } from '../src/timing.js';

const ROUNDS = 3;
const SCRIPT_FILE = /advisory-transfer\.(ts|js)/;

interface Result {
  service: string;
  moved: number;
  deadlocksPerRound: number[];
  deadlockIds: string[];
  stillWaitingAfterAbort: number[];
  victimStacks: string[];
  serviceOfMembers: string[][];
}

describe('scenario 7: advisory locks across two processes (embedded PostgreSQL)', () => {
  let postgres: Postgres;
  let daemon: Daemon;
  before(async () => {
    [postgres, daemon] = await Promise.all([startPostgres({ settings: { deadlock_timeout: '10s' } }), startSweepingDaemon()]);
    const c = postgres.client();
    await c.connect();
    await c.query('create table accounts (id int primary key, balance int not null)');
    await c.query('insert into accounts values (1, 1000), (2, 1000)');
    await c.end();
  });
  after(async () => {
    await cleanup(daemon, postgres);
  });

  test('one wait aborted and cancelled on the server per deadlock, the other proceeds, both finish', TEST_TIMEOUT, async (t) => {
    const expectDeadlocks = await deadlockCounters(daemon.httpUrl);
    const barrier = new ProcessBarrier(2);
    const common = ['--daemon', daemon.url, '--pg', JSON.stringify(postgres.config), '--rounds', String(ROUNDS)];
    const script = servicePath('advisory-transfer');
    const [ab, ba] = await Promise.all([
      runService<Result>(script, [...common, '--service', 'orders', '--first', '1', '--second', '2', '--amount', '7'], {}, { barrier }),
      runService<Result>(script, [...common, '--service', 'billing', '--first', '2', '--second', '1', '--amount', '3'], {}, { barrier }),
    ]);
    const diag = () => `${describeService('orders (1->2)', ab)}\n${describeService('billing (2->1)', ba)}\n--- daemon ---\n${daemon.logs()}\n--- postgres ---\n${postgres.logs()}`;
    assert.equal(ab.code, 0, diag());
    assert.equal(ba.code, 0, diag());
    const [x, y] = [ab.result!, ba.result!];
    assert.ok(x && y, diag());

    const perRound = x.deadlocksPerRound.map((n, r) => n + (y.deadlocksPerRound[r] ?? NaN));
    const line = `advisory locks across processes: aborts per round ${perRound.join(', ')} (orders ${x.deadlocksPerRound}, billing ${y.deadlocksPerRound})`;
    t.diagnostic(line);
    console.log(line);
    assert.deepEqual(perRound, Array(ROUNDS).fill(1), line);
    const ids = [...x.deadlockIds, ...y.deadlockIds];
    assert.equal(new Set(ids).size, ids.length, `no deadlock aborted both processes: ${ids.join(', ')}`);
    await expectDeadlocks(ROUNDS); // and the daemon sent no abort the processes did not see

    // the victim's pg_advisory_lock was cancelled on the server before DeadlockError reached the app
    assert.deepEqual([...x.stillWaitingAfterAbort, ...y.stillWaitingAfterAbort], Array(ROUNDS).fill(0));

    // ...by a cancel: the server logged each cancelled lock attempt (and no deadlock of its own)
    const cancelled = postgres.logs().match(/canceling statement due to user request[\s\S]{0,200}?pg_advisory_lock/g) ?? [];
    assert.equal(cancelled.length, ROUNDS, postgres.logs());
    assert.doesNotMatch(postgres.logs(), /deadlock detected/);

    // both services moved all their money; the real table conserved it
    assert.equal(x.moved, 7 * ROUNDS);
    assert.equal(y.moved, 3 * ROUNDS);
    const c = postgres.client();
    await c.connect();
    try {
      const rows = (await c.query<{ id: number; balance: number }>('select id, balance from accounts order by id')).rows;
      assert.deepEqual(rows.map((r) => r.balance), [1000 - 7 * ROUNDS + 3 * ROUNDS, 1000 + 7 * ROUNDS - 3 * ROUNDS]);
      const waiting = await c.query(`select pid from pg_locks where locktype = 'advisory'`);
      assert.equal(waiting.rowCount, 0, 'no advisory lock is held or awaited any more');
    } finally {
      await c.end();
    }

    // the report crosses services and shows where EACH process waited — in the DeadlockError...
    for (const services of [...x.serviceOfMembers, ...y.serviceOfMembers]) assert.deepEqual(services, ['billing', 'orders']);
    const stacks = [...x.victimStacks, ...y.victimStacks];
    assert.equal(stacks.length, 2 * ROUNDS);
    assert.ok(stacks.every((s) => SCRIPT_FILE.test(s)), stacks.join('\n---\n'));
    // ...and in the daemon's own record, both services named with their call sites
    const record = await daemonDeadlockRecord(daemon, ids[0]!);
    assert.deepEqual(record.members.map((m) => m.service).sort(), ['billing', 'orders']);
    assert.ok(waitStacks(record).every((w) => SCRIPT_FILE.test(w.stack ?? '')), record.text);
    assert.match(record.text, /pg:[^/]+\/postgres\/advisory:[12]/);
  });

  test('the safety-net sweep found nothing the incremental detection missed', TEST_TIMEOUT, () => assertSweepMissedNothing(daemon.httpUrl, () => daemon.logs()));
});
