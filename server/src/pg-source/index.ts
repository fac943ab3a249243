// The PostgreSQL lock sources of the daemon (--watch-postgres): one per watched database.
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { Hub } from '../hub.js';
import { DEFAULT_NAMESPACE } from '../tokens.js';
import { PgSource } from './source.js';

export { PgSource, type PgSourceOptions, type PgSourceStats } from './source.js';

/** Starts a source per --watch-postgres; one that cannot connect is logged and retried. */
export function startPgSources(config: Config, hub: Hub, log: FastifyBaseLogger): PgSource[] {
  return config.watchPostgres.map((value, i) => {
    const { namespace, connectionString } = watchTarget(value);
    const source = new PgSource({
      connectionString,
      hub,
      namespace,
      log: log.child({ pgSource: i + 1 }),
      pollMs: config.pgPollMs,
      resolve: config.pgResolve,
      cancelUnowned: config.pgCancelUnowned,
      queryChars: config.pgQueryChars,
      answerTimeoutMs: config.abortTimeoutMs,
    });
    const begin = (attempt: number): void => {
      source.start().catch((err: unknown) => {
        // the message of a pg connection error never contains the password
        log.error({ pgSource: i + 1, err: String((err as Error)?.message ?? err), attempt }, 'postgres source could not start; retrying');
        setTimeout(() => begin(attempt + 1), Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))).unref();
      });
    };
    begin(0);
    return source;
  });
}

/** `<namespace>=postgres://…` feeds that namespace; anything else (a URL, key=value) the default one. */
export function watchTarget(value: string): { namespace: string; connectionString: string } {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=(postgres(?:ql)?:\/\/.*)$/.exec(value);
  return m ? { namespace: m[1]!, connectionString: m[2]! } : { namespace: DEFAULT_NAMESPACE, connectionString: value };
}
