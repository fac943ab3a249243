// 6. Contention (issue 8): opposite transfers on two FIFO mutexes, each under retryOnDeadlock
// with 2 ms between the two acquires, against a real daemon; and 5 hot accounts × 10 workers.
// The figures are the aborts beside N: every transfer finishes, aborts stay ≤ 3·N, and none
// hits an owner holding nothing (the victim rule, engine README "Victims").
import { connect } from '@deadlockd/client';
import { runContention, type ContentionOptions, type ContentionResult } from '@deadlockd/e2e/contention';
import { startDaemon } from '@deadlockd/e2e/harness';
import { QUICK } from './mode.js';
import { goalRow, type Row } from './table.js';

export interface ContentionBench {
  runs: { name: string; n: number; result: ContentionResult }[];
}

const RETRY = { retries: 1_000 };

export async function measureContention(): Promise<ContentionBench> {
  const daemon = await startDaemon(['--log-level', 'warn']);
  const dd = await connect({ url: daemon.url, service: 'bench-contention', reconnect: false });
  try {
    if (!dd.connected) throw new Error('SDK did not connect to the daemon');
    const cases: [string, ContentionOptions][] = [
      ...(QUICK ? [50] : [50, 200]).map((n): [string, ContentionOptions] => [
        `N=${n} opposite transfers, 2 mutexes`,
        { accounts: 2, workers: n, transfersPerWorker: 1, gapMs: 2, pattern: 'opposite', retry: RETRY, prefix: `n${n}` },
      ]),
      ['5 hot accounts × 10 workers × 5 transfers', { accounts: 5, workers: 10, transfersPerWorker: 5, gapMs: 2, pattern: 'random', seed: 7, retry: RETRY, prefix: 'hot' }],
    ];
    const runs: ContentionBench['runs'] = [];
    for (const [name, o] of cases) runs.push({ name, n: o.workers * o.transfersPerWorker, result: await runContention(dd, o) });
    return { runs };
  } finally {
    await dd.close();
    await daemon.stop();
  }
}

export function contentionRows(b: ContentionBench): Row[] {
  const s = '6. contention, retryOnDeadlock';
  return b.runs.map(({ name, n, result: r }) =>
    goalRow(
      s,
      `${name}: aborts (empty-handed), time`,
      `${r.completed}/${n} done, ${r.aborts} aborts (${r.emptyHandedAborts}), max ${r.maxAttempts} attempts, ${(r.ms / 1000).toFixed(1)} s`,
      `all done, ≤ ${3 * n} aborts, 0 empty-handed`,
      r.completed === n && r.aborts <= 3 * n && r.emptyHandedAborts === 0,
    ),
  );
}
