// Runs every compiled test file with node's built-in runner.
// node --test does not expand globs on Node 20 and silently runs zero tests
// when given no paths, so we collect the files ourselves and refuse an empty list.
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runPythonTests } from './run-python-tests.mjs';
import { runJavaTests } from './run-java-tests.mjs';

const roots = ['proto', 'server', 'client-sdk/node', 'test'].map((p) => join(p, 'dist', 'test'));
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
// the Python SDK's suite (client-sdk/python): always in a full run, or with the filter `python`
const withPython = only.length === 0 || only.includes('python');
// the Java SDK's suite (client-sdk/java, Maven): always in a full run, or with the filter `java`
const withJava = only.length === 0 || only.includes('java');
if (selected.length === 0 && !withPython && !withJava) {
  console.error('run-tests: no test files found (did tsc -b run?)');
  process.exit(1);
}
// Daemons the tests start (any language's) keep their history in memory unless a test names a
// file: a shared ./data/history.sqlite would carry one test's deadlocks into the next. (The Node
// harness, the Python conftest and the Java DaemonProcess also default to it, for a run of one
// suite by hand; this covers every other daemon a test starts, e.g. the CLI tests'.)
process.env.DEADLOCKD_HISTORY_FILE ??= ':memory:';
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
const r = selected.length ? spawnSync(process.execPath, args, { stdio: 'inherit' }) : { status: 0 };
let tap = '';
try {
  tap = readFileSync(tapFile, 'utf8');
} catch {
  // the runner died before writing it: counted as an empty run below
}
const count = (k) => Number((tap.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
const node = { passed: count('pass'), failed: count('fail'), skipped: count('skipped') };
if (selected.length && node.passed + node.failed === 0) {
  console.error('run-tests: the runner executed no test');
  process.exit(1);
}
const python = withPython ? runPythonTests() : { passed: 0, failed: 0, skipped: 0 };
const java = withJava ? runJavaTests() : { passed: 0, failed: 0, skipped: 0 };
if (selected.length) console.log(`TAP: ${tapFile}`);
if (withPython || withJava) {
  console.log(`node: ${node.passed} passed, ${node.failed} failed; python: ${python.passed} passed, ${python.failed} failed; ` +
    `java: ${java.passed} passed, ${java.failed} failed`);
}
const passed = node.passed + python.passed + java.passed;
const failed = node.failed + python.failed + java.failed;
const skipped = node.skipped + python.skipped + java.skipped;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : (r.status ?? 1));
