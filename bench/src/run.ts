// `npm run bench`: runs every measurement in turn, prints the table to stdout
// and writes the full results to bench/results/latest.json. Goals are ratios
// measured side by side within this run (see README.md); PASS/MISS never
// changes the exit code — only a measurement that fails to run does.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { progress, runInChild } from './child.js';
import type { HotLockResult } from './engine-hot-lock.js';
import type { HoldsScalingResult } from './engine-holds.js';
import type { MemoryResult } from './engine-memory.js';
import type { EngineVsNaiveResult } from './engine-vs-naive.js';
import { measureIngest } from './ingest.js';
import { measureLatency } from './latency.js';
import { QUICK, SIZES } from './mode.js';
import { measurePgResolution, pgResolutionRows } from './pg-resolution.js';
import { measurePythonLock, pythonLockRows } from './python-lock.js';
import { measureSdkOverhead, sdkOverheadRows } from './sdk-overhead.js';
import { RESULTS_FILE } from './paths.js';
import { hotLockRows, holdsRows, ingestRows, latencyRows, memoryRows, naiveRows } from './report.js';
import { errorRow, renderTable, type Row } from './table.js';

interface Step {
  key: string;
  title: string;
  run: () => Promise<unknown>;
  rows: (r: never) => Row[];
}

const GC = '--expose-gc';
const steps: Step[] = [
  { key: 'ingest', title: '1. ingest over WebSocket', run: measureIngest, rows: ingestRows },
  { key: 'latency', title: '2. cycle → DeadlockError (SDK)', run: measureLatency, rows: latencyRows },
  { key: 'hotLock', title: '3a. engine: hot mutex', run: () => runInChild<HotLockResult>('hot-lock', [GC]), rows: hotLockRows },
  {
    key: 'holdsScaling',
    title: '3b. engine: live holds',
    run: () => runInChild<HoldsScalingResult>('holds-scaling', [GC, '--max-old-space-size=8192']),
    rows: holdsRows,
  },
  {
    key: 'engineVsNaive',
    title: '3c. engine vs naive SCC',
    run: () => runInChild<EngineVsNaiveResult>('engine-vs-naive', [GC, '--max-old-space-size=4096']),
    rows: naiveRows,
  },
  { key: 'memory', title: '3d. engine: memory', run: () => runInChild<MemoryResult>('memory', [GC]), rows: memoryRows },
  { key: 'sdkOverhead', title: '4. SDK cost (defaults)', run: measureSdkOverhead, rows: sdkOverheadRows },
  { key: 'pgResolution', title: '5. advisory-lock deadlock: deadlockd vs PostgreSQL', run: measurePgResolution, rows: pgResolutionRows },
  { key: 'pythonLock', title: '6. Python SDK cost', run: measurePythonLock, rows: pythonLockRows },
];

const startedAt = new Date();
const t0 = performance.now();
const results: Record<string, unknown> = {};
const rows: Row[] = [];
let failed = 0;
for (const step of steps) {
  const ts = performance.now();
  progress(`${step.title} ...`);
  try {
    const r = await step.run();
    results[step.key] = r;
    rows.push(...step.rows(r as never));
  } catch (err) {
    failed++;
    results[step.key] = { error: String((err as Error)?.stack ?? err) };
    rows.push(errorRow(step.title, err));
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  }
  progress(`${step.title} done in ${((performance.now() - ts) / 1000).toFixed(1)} s`);
}

const seconds = (performance.now() - t0) / 1000;
const table = renderTable(rows);
const doc = {
  startedAt: startedAt.toISOString(),
  seconds,
  quick: QUICK,
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  sizes: SIZES,
  rows,
  results,
};
mkdirSync(dirname(RESULTS_FILE), { recursive: true });
writeFileSync(RESULTS_FILE, `${JSON.stringify(doc, null, 2)}\n`);

process.stdout.write(
  `\ndeadlockd bench${QUICK ? ' (BENCH_QUICK=1: small sizes, figures indicative only)' : ''} — node ${process.version}, ${cpus().length} CPUs, ${seconds.toFixed(0)} s\n` +
    `every ratio compares two variants measured side by side in this run (medians of alternating rounds)\n\n` +
    `${table}\n\nJSON: ${RESULTS_FILE}\n`,
);
process.exitCode = failed > 0 ? 1 : 0;
