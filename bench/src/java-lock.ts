// 9. The Java SDK's cost: an uncontended `dd.lock(...)` lock/unlock against a `ReentrantLock`'s, side by
// side in one JVM (client-sdk/java/src/test/java/dev/deadlockd/bench/LockOverhead.java: warmed, many short
// alternating rounds, the fastest round of each), connected to a real daemon. Goal: ≤ 3× and no event sent.
// Builds the harness with the project's Maven first (test-compile and the test classpath; downloads from
// Maven Central on a fresh machine); needs a JDK 17+ and Maven.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, startDaemon } from '@deadlockd/e2e/harness';
import { QUICK } from './mode.js';
import { fmtNs, fmtRatio, goalRow, infoRow, type Row } from './table.js';

const JAVA_LOCK_GOAL = 3;

export interface JavaLockResult {
  connected: boolean;
  opsPerRound: number;
  rounds: number;
  nsPerOp: { sdk: number; reentrantLock: number };
  medianNsPerOp: { sdk: number; reentrantLock: number };
  ratio: number;
  eventsSent: number;
  eventsPer1000Ops: number;
}

const run = promisify(execFile);

export async function measureJavaLock(): Promise<JavaLockResult> {
  const pkg = resolve(repoRoot, 'client-sdk', 'java');
  const cpFile = join(pkg, 'target', 'bench-classpath.txt');
  const mvn = process.env.MVN ?? 'mvn';
  await run(mvn, ['-B', '-q', 'test-compile', 'dependency:build-classpath', `-Dmdep.outputFile=${cpFile}`, '-Dmdep.includeScope=test'], {
    cwd: pkg,
    timeout: 600_000,
    maxBuffer: 16 << 20,
  });
  const cp = [join(pkg, 'target', 'classes'), join(pkg, 'target', 'test-classes'), readFileSync(cpFile, 'utf8').trim()].join(delimiter);
  const daemon = await startDaemon();
  try {
    const args = ['-cp', cp, 'dev.deadlockd.bench.LockOverhead', daemon.url, '100000', String(QUICK ? 31 : 101)];
    const { stdout } = await run(process.env.JAVA ?? 'java', args, { timeout: 600_000 });
    return JSON.parse(stdout.trim().split('\n').pop() as string) as JavaLockResult;
  } finally {
    await daemon.stop();
  }
}

export function javaLockRows(r: JavaLockResult): Row[] {
  const s = '9. Java SDK cost';
  return [
    goalRow(s, 'uncontended dd.lock vs ReentrantLock (fastest round)',
      `${fmtNs(r.nsPerOp.sdk)} vs ${fmtNs(r.nsPerOp.reentrantLock)} (${fmtRatio(r.ratio)})`, `≤ ${JAVA_LOCK_GOAL}×`, r.ratio <= JAVA_LOCK_GOAL),
    infoRow(s, 'the same, medians of the rounds',
      `${fmtNs(r.medianNsPerOp.sdk)} vs ${fmtNs(r.medianNsPerOp.reentrantLock)} (${fmtRatio(r.medianNsPerOp.sdk / r.medianNsPerOp.reentrantLock)})`),
    goalRow(s, 'events sent per 1000 uncontended lock/unlock', String(r.eventsPer1000Ops), '0', r.eventsSent === 0 && r.connected),
  ];
}
