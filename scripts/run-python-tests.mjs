// Runs the Python SDK's checks and tests (client-sdk/python) and returns their counts.
//
// Works on a fresh machine with only python3 + pip: it creates the virtualenv
// client-sdk/python/.venv (gitignored), installs the package with its test extras from
// PyPI (again only when pyproject.toml changed), then runs `ruff check`, `mypy` (strict,
// from pyproject) and pytest with a JUnit XML report, which it reads back for the counts.
// ruff and mypy count as one test each. A run that collects no test fails (pytest's exit
// code 5 included), so an empty run can never pass.
//
// Used by scripts/run-tests.mjs; also runnable alone: node scripts/run-python-tests.mjs [pytest args]
// (or --setup: the virtualenv only, which bench/src/python-lock.ts asks for when it is missing).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const pkg = join(root, 'client-sdk', 'python');
const venv = join(pkg, '.venv');
const bin = join(venv, 'bin');
const py = join(bin, 'python');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: pkg, ...opts });
  if (r.error) console.error(`run-python-tests: ${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

/** The venv with the package and its test extras; false (with a message) when it cannot be made. */
function ensureVenv() {
  if (!existsSync(py)) {
    const python = process.env.PYTHON ?? 'python3';
    if (run(python, ['-m', 'venv', venv]) !== 0) {
      console.error(`run-python-tests: '${python} -m venv' failed (on Debian: apt-get install python3-venv)`);
      return false;
    }
  }
  const stampFile = join(venv, '.deadlockd-installed');
  const stamp = createHash('sha256').update(readFileSync(join(pkg, 'pyproject.toml'))).digest('hex');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return true;
  const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check'];
  if (run(py, [...pip, '--upgrade', 'pip']) !== 0 || run(py, [...pip, '--editable', '.[test]']) !== 0) {
    console.error('run-python-tests: pip install of client-sdk/python[test] failed');
    return false;
  }
  writeFileSync(stampFile, stamp);
  return true;
}

function junitCounts(file) {
  let xml = '';
  try {
    xml = readFileSync(file, 'utf8');
  } catch {
    return { tests: 0, failures: 0, errors: 0, skipped: 0 };
  }
  // one <testsuite> per pytest run (inside <testsuites>)
  const attr = (name) => {
    let n = 0;
    for (const m of xml.matchAll(new RegExp(`<testsuite\\b[^>]*\\b${name}="(\\d+)"`, 'g'))) n += Number(m[1]);
    return n;
  };
  return { tests: attr('tests'), failures: attr('failures'), errors: attr('errors'), skipped: attr('skipped') };
}

/** Runs everything; returns { passed, failed, skipped } (a setup failure counts as one failure). */
export function runPythonTests(pytestArgs = []) {
  if (!ensureVenv()) return { passed: 0, failed: 1, skipped: 0 };
  let passed = 0;
  let failed = 0;
  for (const [what, args] of [['ruff check', ['-m', 'ruff', 'check', 'src', 'tests', 'examples', 'benchmarks']], ['mypy --strict', ['-m', 'mypy']]]) {
    if (run(py, args) === 0) passed++;
    else {
      failed++;
      console.error(`run-python-tests: ${what} failed`);
    }
  }
  mkdirSync(join(root, 'test-results'), { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const xml = join(root, 'test-results', `python-${stamp}-${process.pid}.xml`);
  const code = run(py, ['-m', 'pytest', '-p', 'no:cacheprovider', `--junitxml=${xml}`, ...pytestArgs], {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  const c = junitCounts(xml);
  const pyPassed = c.tests - c.failures - c.errors - c.skipped;
  if (code === 5 || c.tests === 0) {
    console.error('run-python-tests: pytest collected no test');
    return { passed, failed: failed + 1, skipped: c.skipped };
  }
  passed += pyPassed;
  failed += c.failures + c.errors;
  if (code !== 0 && c.failures + c.errors === 0) {
    console.error(`run-python-tests: pytest exited with ${code}`);
    failed++;
  }
  return { passed, failed, skipped: c.skipped };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // --setup: only make (or bring up to date) the virtualenv, for `npm run bench` on a fresh clone
  if (process.argv[2] === '--setup') process.exit(ensureVenv() ? 0 : 1);
  const r = runPythonTests(process.argv.slice(2));
  console.log(`${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  process.exit(r.failed === 0 && r.passed > 0 ? 0 : 1);
}
