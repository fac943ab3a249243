// The daemon's own record of a deadlock — what an operator reads — so tests can check
// what reached it (members, waits, call sites), not only what the SDK was told.
// REST GET /v1/deadlocks/:id when the daemon has it, else its `deadlock detected` log line.
import type { DeadlockReport } from '@deadlockd/proto';
import type { Daemon } from './harness.js';
import { sleep } from './timing.js';

export async function daemonDeadlockRecord(daemon: Daemon, id: string, timeoutMs = 5_000): Promise<DeadlockReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${daemon.httpUrl}/v1/deadlocks/${encodeURIComponent(id)}`).catch(() => undefined);
    if (res?.status === 200) return ((await res.json()) as { report: DeadlockReport }).report;
    await res?.body?.cancel();
    const fromLog = loggedReport(daemon, id);
    if (fromLog) return fromLog;
    if (Date.now() > deadline) throw new Error(`the daemon has no record of deadlock ${id}\n${daemon.logs()}`);
    await sleep(50);
  }
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
