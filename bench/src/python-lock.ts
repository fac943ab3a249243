// 7. The Python SDK's cost: an uncontended `with dd.Lock(...)` against `with threading.Lock()`,
// side by side in one Python process (alternating rounds, medians; client-sdk/python/benchmarks/
// lock_overhead.py), connected to a real daemon. Goal: ≤ 3× and no event sent. Runs in the
// virtualenv `npm test` makes (client-sdk/python/.venv), and makes it first when it is missing.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, startDaemon } from '@deadlockd/e2e/harness';
import { progress } from './child.js';
import { QUICK } from './mode.js';
import { fmtNs, fmtRatio, goalRow, type Row } from './table.js';

const PYTHON_LOCK_GOAL = 3;

export interface PythonLockResult {
  connected: boolean;
  opsPerRound: number;
  rounds: number;
  nsPerOp: { sdk: number; threading: number };
  ratio: number;
  eventsSent: number;
}

export async function measurePythonLock(): Promise<PythonLockResult> {
  const pkg = resolve(repoRoot, 'client-sdk', 'python');
  const python = join(pkg, '.venv', 'bin', 'python');
  if (!existsSync(python)) {
    // a fresh clone that has not run npm test yet: make the virtualenv npm test makes
    progress('python: making client-sdk/python/.venv (node scripts/run-python-tests.mjs --setup)');
    const setup = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'run-python-tests.mjs'), '--setup'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
    if (setup.status !== 0 || !existsSync(python)) throw new Error('could not make client-sdk/python/.venv (node scripts/run-python-tests.mjs --setup failed; see above)');
  }
  const daemon = await startDaemon();
  try {
    const args = [join(pkg, 'benchmarks', 'lock_overhead.py'), daemon.url, String(QUICK ? 50_000 : 200_000), String(QUICK ? 5 : 15)];
    const { stdout } = await promisify(execFile)(python, args, { timeout: 600_000 });
    return JSON.parse(stdout.trim().split('\n').pop() as string) as PythonLockResult;
  } finally {
    await daemon.stop();
  }
}

export function pythonLockRows(r: PythonLockResult): Row[] {
  const s = '7. Python SDK cost';
  return [
    goalRow(s, 'uncontended dd.Lock vs threading.Lock',
      `${fmtNs(r.nsPerOp.sdk)} vs ${fmtNs(r.nsPerOp.threading)} (${fmtRatio(r.ratio)})`, `≤ ${PYTHON_LOCK_GOAL}×`, r.ratio <= PYTHON_LOCK_GOAL),
    goalRow(s, 'events sent for those acquires', String(r.eventsSent), '0', r.eventsSent === 0 && r.connected),
  ];
}
