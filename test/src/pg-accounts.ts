// What the PostgreSQL-source end-to-end tests share: a daemon that watches the embedded
// PostgreSQL, and the two-account table their services move money between.
import type { Postgres } from './embedded-pg.js';
import type { Daemon } from './harness.js';
import { startSweepingDaemon } from './watched-session.js';

/** A connection string for the embedded PostgreSQL, through `port` (a proxy) if given. */
export function pgUrl(postgres: Postgres, port?: number): string {
  const c = postgres.config;
  return `postgresql://${c.user}:${c.password}@${port === undefined ? c.host : '127.0.0.1'}:${port ?? c.port}/${c.database}`;
}

/** A sweeping daemon with `--watch-postgres <url>` (and `extra` flags), once its source watches. */
export async function startWatchingDaemon(url: string, extra: string[] = []): Promise<Daemon> {
  const daemon = await startSweepingDaemon(['--watch-postgres', url, ...extra]);
  await daemon.waitForLog(/postgres source watching/, 15_000);
  return daemon;
}

async function query<R extends object>(postgres: Postgres, text: string): Promise<R[]> {
  const c = postgres.client();
  await c.connect();
  try {
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end();
  }
}

/** Accounts 1 and 2, 1000 each. */
export async function createAccounts(postgres: Postgres): Promise<void> {
  await query(postgres, 'create table accounts (id int primary key, balance int not null)');
  await query(postgres, 'insert into accounts values (1, 1000), (2, 1000)');
}

/** The balances of the accounts, by id. */
export async function balances(postgres: Postgres): Promise<number[]> {
  return (await query<{ balance: number }>(postgres, 'select balance from accounts order by id')).map((r) => r.balance);
}
