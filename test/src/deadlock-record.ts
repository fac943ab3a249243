// The daemon's own record of a deadlock — what an operator reads — so tests can check
// what reached it (members, waits, call sites), not only what the SDK was told.
// REST GET /v1/deadlocks/:id when the daemon has it, else its `deadlock detected` log line.
import type { DeadlockReport } from '@deadlockd/proto';
import type { Daemon } from './harness.js';
import { STEP_MS, until } from './timing.js';

export async function daemonDeadlockRecord(daemon: Daemon, id: string, timeoutMs = STEP_MS): Promise<DeadlockReport> {
  return until(timeoutMs, `the daemon's record of deadlock ${id}`, async () => {
    const res = await fetch(`${daemon.httpUrl}/v1/deadlocks/${encodeURIComponent(id)}`).catch(() => undefined);
    if (res?.status === 200) return ((await res.json()) as { report: DeadlockReport }).report;
    await res?.body?.cancel();
    return loggedReport(daemon, id);
  }, 50, () => daemon.logs());
}

function loggedReport(daemon: Daemon, id: string): DeadlockReport | undefined {
  for (const line of daemon.logs(Number.MAX_SAFE_INTEGER).split('\n')) {
    if (!line.includes('"msg":"deadlock detected"') || !line.includes(id)) continue;
    try {
      const entry = JSON.parse(line) as { deadlock: string; text: string; report: Omit<DeadlockReport, 'text'> };
      if (entry.deadlock === id) return { ...entry.report, text: entry.text };
    } catch {
      // not one JSON line: keep looking
    }
  }
  return undefined;
}

/** Every wait's call site in a report, with the member that waited. */
export function waitStacks(report: DeadlockReport): Array<{ owner: string; service: string; stack: string | undefined }> {
  return report.members.flatMap((m) => m.waits.map((w) => ({ owner: m.name, service: m.service, stack: w.stack })));
}
