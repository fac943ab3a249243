#!/usr/bin/env node
// `deadlockd`: load the config (defaults < DEADLOCKD_* env < flags), listen,
// print one line saying where, and shut down cleanly on SIGTERM/SIGINT.
import { ConfigError, helpText, parseConfigSources } from './config.js';
import { startDaemon } from './start.js';

const EXIT_BAD_CONFIG = 2;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseConfigSources(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`deadlockd: ${err.message}\n`);
      process.exit(EXIT_BAD_CONFIG);
    }
    throw err;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(helpText());
    return;
  }
  const daemon = await startDaemon(parsed.config);
  const note = daemon.loopbackOnly ? ' (loopback only: use --host 0.0.0.0 to accept other machines)' : '';
  const tokens = daemon.app.deadlockd.tokens;
  const auth = tokens.enabled ? ` (auth on: namespaces ${tokens.namespaces().join(', ')})` : ' (auth off: no --tokens or --tokens-file)';
  process.stdout.write(`deadlockd listening on ${daemon.url}${note}${auth}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    daemon.app.log.info({ signal }, 'shutting down');
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        daemon.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  // a setting found bad only at start (the history file cannot be used): said as a bad setting
  if (err instanceof ConfigError) {
    process.stderr.write(`deadlockd: ${err.message}\n`);
    process.exit(EXIT_BAD_CONFIG);
  }
  process.stderr.write(`deadlockd: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
