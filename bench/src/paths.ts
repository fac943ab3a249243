// Where things are, from this compiled file (bench/dist/src/*.js).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** bench/ */
const BENCH_DIR = resolve(here, '../..');
export const RESULTS_FILE = join(BENCH_DIR, 'results', 'latest.json');
/** entry point of a measurement that runs in its own node process */
export const CHILD_MAIN = join(here, 'child-main.js');
/** the bare ws + JSON.parse server of the ingest floor (floor-server.ts) */
export const FLOOR_SERVER = join(here, 'floor-server.js');
/** one SDK client in a process of its own, for the two-process latency row (latency-peer.ts) */
export const LATENCY_PEER = join(here, 'latency-peer.js');
/** the stall probe's pinging connection, a process of its own (pinger-child.ts) */
export const PINGER_CHILD = join(here, 'pinger-child.js');
