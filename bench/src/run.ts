// `npm run bench`: runs every measurement in turn, prints the table to stdout
// and writes the full results to bench/results/latest.json. Goals are ratios
// measured side by side within this run (see README.md); PASS/MISS never
// changes the exit code — only a measurement that fails to run does.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { progress } from './child.js';
import { QUICK, SIZES } from './mode.js';
import { RESULTS_FILE } from './paths.js';
import { STEPS } from './steps.js';
import { errorRow, renderTable, type Row } from './table.js';

// BENCH_ONLY=ingest,hotLock runs only those steps (by key), for working on one measurement
const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const selected = only?.length ? STEPS.filter((s) => only.includes(s.key)) : STEPS;
const startedAt = new Date();
const t0 = performance.now();
const results: Record<string, unknown> = {};
const rows: Row[] = [];
let failed = 0;
for (const step of selected) {
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
