// Runs the Java SDK's tests (client-sdk/java, Maven + JUnit 5 through Surefire) and returns their counts.
//
// Works on a fresh machine with a JDK 17+ and Maven: the first build downloads the plugins and
// dependencies from Maven Central (never `mvn -o`). The compiler runs with --release 17 -Xlint:all
// -Werror (pom.xml). The counts come from Surefire's XML reports (target/surefire-reports/TEST-*.xml),
// which are removed first, so a run that executes no test fails. The tests need the built daemon
// (npx tsc -b).
//
// Virtual threads: the suite is built for Java 17, where VirtualThreadsTest skips itself. When Maven's
// JDK is older than 21 and the machine has a JDK 21+ (DEADLOCKD_VT_JAVA_HOME, else the newest under
// /usr/lib/jvm), that class runs a second time with Surefire forking that JDK's java (-Djvm): same
// classes, same Maven. Without one it says clearly that it skipped, and why.
//
// Used by scripts/run-tests.mjs; also runnable alone: node scripts/run-java-tests.mjs [-Dtest=LocksTest]
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const pkg = join(root, 'client-sdk', 'java');
const reports = join(pkg, 'target', 'surefire-reports');
const mvn = process.env.MVN ?? 'mvn';
const VT_CLASS = 'VirtualThreadsTest';
const JVM_DIR = '/usr/lib/jvm';

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

/** One Maven run; returns { passed, failed, skipped } (a build failure or no test executed counts as one failure). */
function mavenRun(mvnArgs, what) {
  rmSync(reports, { recursive: true, force: true });
  const r = spawnSync(mvn, ['-B', '-q', 'test', ...mvnArgs], { stdio: 'inherit', cwd: pkg });
  if (r.error) console.error(`run-java-tests: mvn: ${r.error.message} (a JDK 17+ and Maven are needed)`);
  const c = counts();
  const passed = c.tests - c.failures - c.errors - c.skipped;
  let failed = c.failures + c.errors;
  if (c.tests === 0) {
    console.error(`run-java-tests: ${what}: Maven executed no test`);
    return { passed: 0, failed: failed + 1, skipped: c.skipped };
  }
  if ((r.status ?? 1) !== 0 && failed === 0) {
    console.error(`run-java-tests: ${what}: mvn exited with ${r.status}`);
    failed++;
  }
  return { passed, failed, skipped: c.skipped };
}

/** the feature version (17, 21, 25, ...) of the JDK at `home`, from its `release` file; 0 if unknown */
function jdkVersion(home) {
  try {
    const m = readFileSync(join(home, 'release'), 'utf8').match(/^JAVA_VERSION="(?:1\.)?(\d+)/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** the feature version of the JDK Maven runs on (`mvn -v`); 0 if unknown */
function mavenJdkVersion() {
  const r = spawnSync(mvn, ['-v'], { cwd: pkg, encoding: 'utf8' });
  const m = String(r.stdout ?? '').match(/Java version: (?:1\.)?(\d+)/);
  return m ? Number(m[1]) : 0;
}

/** a JDK 21+ to run the virtual-thread tests on: { home, version } or { why } */
function findVirtualThreadJdk() {
  const explicit = process.env.DEADLOCKD_VT_JAVA_HOME;
  if (explicit) {
    const v = jdkVersion(explicit);
    return v >= 21 && existsSync(join(explicit, 'bin', 'java'))
      ? { home: explicit, version: v }
      : { why: `DEADLOCKD_VT_JAVA_HOME=${explicit} is not a JDK 21+ (version ${v || 'unknown'})` };
  }
  let best;
  for (const d of existsSync(JVM_DIR) ? readdirSync(JVM_DIR) : []) {
    const home = join(JVM_DIR, d);
    const v = jdkVersion(home);
    if (v >= 21 && existsSync(join(home, 'bin', 'java')) && (!best || v > best.version)) best = { home, version: v };
  }
  return best ?? { why: `no JDK 21+ found (none under ${JVM_DIR}; set DEADLOCKD_VT_JAVA_HOME to one)` };
}

/** Runs the suite; returns { passed, failed, skipped }. */
export function runJavaTests(mvnArgs = []) {
  const picked = mvnArgs.find((a) => a.startsWith('-Dtest='));
  const vtWanted = !picked || picked.includes(VT_CLASS);
  const mainJdk = mavenJdkVersion();
  const vtJdk = vtWanted && mainJdk < 21 ? findVirtualThreadJdk() : undefined;
  // with a JDK 21+ for the second run, the first one leaves the class out (it would only skip itself)
  const mainArgs = vtJdk?.home && !picked ? [...mvnArgs, `-Dtest=!${VT_CLASS}`] : mvnArgs;
  const onlyVt = picked !== undefined && picked === `-Dtest=${VT_CLASS}` && vtJdk?.home;
  const main = onlyVt ? { passed: 0, failed: 0, skipped: 0 } : mavenRun(mainArgs, `JDK ${mainJdk || '?'}`);
  if (!vtWanted) return main;
  if (mainJdk >= 21) {
    console.log(`run-java-tests: virtual threads: ${VT_CLASS} ran in the main run (Maven's JDK is ${mainJdk})`);
    return main;
  }
  if (!vtJdk?.home) {
    console.log(`run-java-tests: virtual threads: SKIPPED ${VT_CLASS}: Maven's JDK is ${mainJdk || 'unknown'} (< 21) and ${vtJdk?.why}`);
    return main;
  }
  const jvm = join(vtJdk.home, 'bin', 'java');
  const vt = mavenRun([...mvnArgs.filter((a) => !a.startsWith('-Dtest=')), `-Dtest=${VT_CLASS}`, `-Djvm=${jvm}`], `${VT_CLASS} on JDK ${vtJdk.version}`);
  console.log(`run-java-tests: virtual threads: ${VT_CLASS} on JDK ${vtJdk.version} (${vtJdk.home}): ` +
    `${vt.passed} passed, ${vt.failed} failed, ${vt.skipped} skipped`);
  return { passed: main.passed + vt.passed, failed: main.failed + vt.failed, skipped: main.skipped + vt.skipped };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = runJavaTests(process.argv.slice(2));
  console.log(`${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  process.exit(r.failed === 0 && r.passed > 0 ? 0 : 1);
}
