// Runs every compiled test file with node's built-in runner.
// node --test does not expand globs on Node 20 and silently runs zero tests
// when given no paths, so we collect the files ourselves and refuse an empty list.
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['proto', 'server', 'client-sdk', 'test'].map((p) => join(p, 'dist', 'test'));
const files = [];
function walk(dir) {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const name of entries) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (name.endsWith('.test.js')) files.push(full);
  }
}
roots.forEach(walk);
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (selected.length === 0) {
  console.error('run-tests: no test files found (did tsc -b run?)');
  process.exit(1);
}
// Human-readable spec output on stdout, TAP into a file we read back for the
// closing "N passed, N failed" line that CI looks for.
// One TAP file per run: two runs in one checkout (say `npm test` twice at once) must not read
// each other's results.
mkdirSync('test-results', { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const tapFile = join('test-results', `results-${stamp}-${process.pid}.tap`);
const args = [
  '--enable-source-maps', '--test', '--test-concurrency=2',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
  ...selected.sort(),
];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
let tap = '';
try {
  tap = readFileSync(tapFile, 'utf8');
} catch {
  // the runner died before writing it: counted as an empty run below
}
const count = (k) => Number((tap.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
const passed = count('pass');
const failed = count('fail');
const skipped = count('skipped');
if (passed + failed === 0) {
  console.error('run-tests: the runner executed no test');
  process.exit(1);
}
console.log(`TAP: ${tapFile}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status ?? 1);
