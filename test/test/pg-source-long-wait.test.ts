// Issue 13: a lock wait that is not a deadlock. A long transaction (a psql-like session no SDK
// reports) holds a row; a service's UPDATE waits for it. The daemon shows the wait in its live
// graph (the waiting backend named with its service and query, the row in words, the blocker as
// an owner of its own), cancels nobody, and the UPDATE completes once the transaction commits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client as DeadlockClient } from '@deadlockd/client';
import { instrumentPool } from '@deadlockd/client/pg';
import pg from 'pg';
import { startPostgres, type Postgres } from '../src/embedded-pg.js';
import { cleanup, type Daemon } from '../src/harness.js';
import { metric, requireMetrics } from '../src/prom-metrics.js';
import { until } from '../src/timing.js';
import { createAccounts, pgUrl, startWatchingDaemon } from '../src/pg-accounts.js';
import { closeSdk, connectSdk } from '../src/watched-session.js';

interface GraphNode {
  key: string;
  attributes: { kind: string; label: string; service?: string; waiting?: boolean; client?: string; owner?: string };
}

describe('issue 13: a long row-lock wait that is no deadlock (embedded PostgreSQL)', () => {
  let postgres: Postgres;
  let daemon: Daemon;
  let dd: DeadlockClient | undefined;
  const graph = async (): Promise<GraphNode[]> => ((await (await fetch(`${daemon.httpUrl}/v1/graph?blocked=true`)).json()) as { nodes: GraphNode[] }).nodes;

  before(async () => {
    postgres = await startPostgres();
    daemon = await startWatchingDaemon(pgUrl(postgres), ['--pg-resolve']);
    await createAccounts(postgres);
  });
  after(async () => {
    await closeSdk(dd);
    await cleanup(daemon, postgres);
  });

  test('shown in the live graph, nobody cancelled, done once the long transaction commits', { timeout: 60_000 }, async () => {
    const holder = new pg.Client({ ...postgres.config, application_name: 'psql' });
    await holder.connect();
    await holder.query('begin');
    await holder.query('update accounts set balance = balance where id = 1');
    dd = await connectSdk(daemon.url, 'orders');
    const pool = instrumentPool(dd, new pg.Pool({ ...postgres.config, max: 2 }), { name: 'orders-db' });
    const update = dd.task('monthly report', () => pool.query('update accounts set balance = balance + 1 where id = 1'));
    try {
      // the daemon's graph shows the database wait, its row, and the session that blocks it
      const nodes = await until(15_000, 'the database wait in the live graph', async () => {
        const g = await graph();
        const waiter = g.find((n) => /^backend \d+ \(orders, user postgres\): update accounts set balance = balance \+ 1/.test(n.attributes.label));
        const row = g.find((n) => n.attributes.kind === 'resource' && /^row \(0,1\) of accounts/.test(n.attributes.label));
        const blocker = g.find((n) => /^backend \d+ \(psql, user postgres\): update accounts set balance = balance where id = 1/.test(n.attributes.label));
        return waiter && row && blocker ? { waiter, row, blocker } : undefined;
      });
      assert.equal(nodes.waiter.attributes.service, 'postgres:postgres');
      assert.equal(nodes.waiter.attributes.waiting, true);
      // it waits, and keeps waiting: no cycle, so nothing is cancelled (the wait is long by now)
      const waiter = nodes.waiter.attributes;
      await until(15_000, 'the wait to be 1 s old, still pending', async () => {
        const d = (await (await fetch(`${daemon.httpUrl}/v1/owners/${waiter.client}/${waiter.owner}`)).json()) as { waits: Array<{ since: number }> };
        return d.waits.length === 1 && Date.now() - d.waits[0]!.since > 1_000 ? true : undefined;
      });
      const history = (await (await fetch(`${daemon.httpUrl}/v1/deadlocks`)).json()) as { total: number };
      assert.equal(history.total, 0);
      // the long-waits view lists it, oldest first, as no deadlock
      const long = (await (await fetch(`${daemon.httpUrl}/v1/waits?minAgeMs=1000`)).json()) as { waits: Array<{ owner: string; service: string; inDeadlock: boolean }> };
      const listed = long.waits.find((w) => w.owner === waiter.owner);
      assert.ok(listed, `the database wait is among the long waits: ${JSON.stringify(long)}`);
      assert.equal(listed.service, 'postgres:postgres');
      assert.equal(listed.inDeadlock, false);
      // the source's work shows on /metrics: polls made, nothing cancelled
      const m = await requireMetrics(daemon.httpUrl);
      assert.ok(metric(m, 'deadlockd_pg_polls_total') > 0, 'polls counted');
      assert.equal(metric(m, 'deadlockd_pg_cancels_total'), 0, 'nothing cancelled');
      await holder.query('commit');
      const r = await update;
      assert.equal(r.rowCount, 1);
      assert.doesNotMatch(postgres.logs(), /canceling statement due to user request/);
      // ...and the graph forgets the wait once it is over
      await until(15_000, 'the database wait to leave the graph', async () => ((await graph()).some((n) => n.attributes.service === 'postgres:postgres') ? undefined : true));
    } finally {
      await holder.end().catch(() => {});
      await pool.end();
    }
  });
});
