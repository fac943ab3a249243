// `node bench/dist/src/retable.js [results.json]`: prints the table again from a
// saved run's results (bench/results/latest.json by default) with the current
// row labels and goals — nothing is measured again.
import { readFileSync } from 'node:fs';
import { RESULTS_FILE } from './paths.js';
import { STEPS } from './steps.js';
import { renderTable, type Row } from './table.js';

const doc = JSON.parse(readFileSync(process.argv[2] ?? RESULTS_FILE, 'utf8')) as { results: Record<string, unknown>; startedAt: string };
const rows: Row[] = [];
for (const step of STEPS) {
  const r = doc.results[step.key];
  if (r === undefined || (typeof r === 'object' && r !== null && 'error' in r)) continue;
  rows.push(...step.rows(r as never));
}
process.stdout.write(`results of the run started ${doc.startedAt}\n\n${renderTable(rows)}\n`);
