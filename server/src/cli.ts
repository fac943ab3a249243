#!/usr/bin/env node
// `deadlockd`: load the config (defaults < DEADLOCKD_* env < flags), listen,
// log one line saying where, and shut down cleanly on SIGTERM/SIGINT.
// stdout carries only log lines (JSON by default): nothing else is written there,
// except the texts of --help and --version.
import { ConfigError, helpText, parseConfigSources } from './config.js';
import { startDaemon } from './start.js';
import { DAEMON_VERSION } from './version.js';

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
  if (parsed.kind === 'version') {
    process.stdout.write(`deadlockd ${DAEMON_VERSION}\n`);
    return;
  }
  const daemon = await startDaemon(parsed.config);
  const note = daemon.loopbackOnly ? ' (loopback only: use --host 0.0.0.0 to accept other machines)' : '';
  const tokens = daemon.app.deadlockd.tokens;
  const auth = tokens.enabled ? ` (auth on: namespaces ${tokens.namespaces().join(', ')})` : ' (auth off: no --tokens or --tokens-file)';
  // The handlers first, then the line scripts wait for: with --log-format pretty the line is written by
  // pino's worker thread, which may print it (and a script send SIGTERM) before this thread runs on.
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
  // Logged whatever --log-level says (except silent): scripts and tests wait for this line.
  const announce = parsed.config.logLevel === 'silent' ? daemon.app.log : daemon.app.log.child({}, { level: 'info' });
  announce.info(
    { url: daemon.url, version: DAEMON_VERSION, loopbackOnly: daemon.loopbackOnly, auth: tokens.enabled },
    `deadlockd listening on ${daemon.url}${note}${auth}`,
  );
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
