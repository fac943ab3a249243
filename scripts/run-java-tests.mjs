// Runs the Java SDK's tests (client-sdk/java, Maven + JUnit 5 through Surefire) and returns their counts.
//
// Works on a fresh machine with a JDK 17+ and Maven: the first build downloads the plugins and
// dependencies from Maven Central (never `mvn -o`). The compiler runs with -Xlint:all -Werror (pom.xml).
// The counts come from Surefire's XML reports (target/surefire-reports/TEST-*.xml), which are removed
// first, so a run that executes no test fails. The tests need the built daemon (npx tsc -b).
//
// Used by scripts/run-tests.mjs; also runnable alone: node scripts/run-java-tests.mjs [-Dtest=LocksTest]
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const pkg = join(root, 'client-sdk', 'java');
const reports = join(pkg, 'target', 'surefire-reports');

function counts() {
  const c = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  if (!existsSync(reports)) return c;
  for (const f of readdirSync(reports)) {
    if (!f.startsWith('TEST-') || !f.endsWith('.xml')) continue;
    const head = (readFileSync(join(reports, f), 'utf8').match(/<testsuite\b[^>]*>/) ?? [''])[0];
    for (const k of Object.keys(c)) c[k] += Number((head.match(new RegExp(`\\b${k}="(\\d+)"`)) ?? [])[1] ?? 0);
  }
  return c;
}

/** Runs the suite; returns { passed, failed, skipped } (a build failure counts as one failure). */
export function runJavaTests(mvnArgs = []) {
  rmSync(reports, { recursive: true, force: true });
  const r = spawnSync(process.env.MVN ?? 'mvn', ['-B', '-q', 'test', ...mvnArgs], { stdio: 'inherit', cwd: pkg });
  if (r.error) console.error(`run-java-tests: mvn: ${r.error.message} (a JDK 17+ and Maven are needed)`);
  const c = counts();
  const passed = c.tests - c.failures - c.errors - c.skipped;
  let failed = c.failures + c.errors;
  if (c.tests === 0) {
    console.error('run-java-tests: Maven executed no test');
    return { passed: 0, failed: failed + 1, skipped: c.skipped };
  }
  if ((r.status ?? 1) !== 0 && failed === 0) {
    console.error(`run-java-tests: mvn exited with ${r.status}`);
    failed++;
  }
  return { passed, failed, skipped: c.skipped };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = runJavaTests(process.argv.slice(2));
  console.log(`${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  process.exit(r.failed === 0 && r.passed > 0 ? 0 : 1);
}
