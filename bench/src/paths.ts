// Where things are, from this compiled file (bench/dist/src/*.js).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** bench/ */
export const BENCH_DIR = resolve(here, '../..');
export const RESULTS_FILE = join(BENCH_DIR, 'results', 'latest.json');
/** the daemon's CLI, next to the server package's entry point */
export const DAEMON_CLI = join(dirname(fileURLToPath(import.meta.resolve('@deadlockd/server'))), 'cli.js');
/** entry point of a measurement that runs in its own node process */
export const CHILD_MAIN = join(here, 'child-main.js');
