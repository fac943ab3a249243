// npm run soak [-- --seconds S] [--local N] [--cross-pairs N] [--calm N] [--max-rss-growth-mb M]
//
// Starts its own daemon and lock server (127.0.0.1), then client processes for S seconds
// (default 60): `local` ones deadlock inside themselves every round, `cross` pairs deadlock with
// each other through distributed locks every round, `calm` ones never deadlock. Meanwhile it
// samples the daemon's RSS and how long GET /healthz takes (the daemon's event-loop lag seen from
// outside; deadlockd_event_loop_lag_seconds too, once the daemon exports it). Prints a table;
// exits 1 on a finding: a false abort, a deadlock not resolved by exactly one abort, an error in
// a client, daemon RSS growing more than the bound after warm-up, a dead daemon, or a healthy
// client's deadlock no longer detected at the end.
import { parseArgs } from 'node:util';
import { cleanup, runService, startDaemon, startLockServerProcess, type ServiceResult } from '../harness.js';
import { hasExited } from '../children.js';
import { ProcessBarrier } from '../process-barrier.js';
import { scrapeMetrics } from '../prom-metrics.js';
import { rssMb, table } from '../report-table.js';
import { sleep } from '../timing.js';
import { healthyDeadlockDetected } from '../fuzz/healthy-deadlock.js';
import { fileURLToPath } from 'node:url';
import type { WorkerResult } from './worker.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    local: { type: 'string', default: '2' },
    'cross-pairs': { type: 'string', default: '1' },
    calm: { type: 'string', default: '2' },
    'max-rss-growth-mb': { type: 'string', default: '32' },
  },
});
const seconds = Number(values.seconds);
const nLocal = Number(values.local);
const nPairs = Number(values['cross-pairs']);
const nCalm = Number(values.calm);
const maxGrowthMb = Number(values['max-rss-growth-mb']);
/** RSS before this share of the run is warm-up (V8 and the graph's maps growing to size). */
const WARM_UP_SHARE = 0.25;
/** A short history, so it is full (at its steady size) well before the warm-up ends. */
const HISTORY_SIZE = 100;

const worker = fileURLToPath(new URL('./worker.js', import.meta.url));
console.log(
  `soak: ${seconds} s; ${nLocal} local-deadlock, ${nPairs} cross-process pair(s), ${nCalm} calm client(s); ` +
    `daemon RSS bound +${maxGrowthMb} MB after ${WARM_UP_SHARE * 100}% warm-up (history ${HISTORY_SIZE} deadlocks)`,
);

const [daemon, lockServer] = await Promise.all([startDaemon(['--log-level', 'warn', '--sweep-interval-ms', '1000', '--history-size', String(HISTORY_SIZE)]), startLockServerProcess()]);
const started = Date.now();
const until = started + seconds * 1000;
const killAfterMs = seconds * 1000 + 90_000;
const common = (mode: string, name: string) => ['--daemon', daemon.url, '--mode', mode, '--name', name, '--until', String(until)];

const runs: Array<Promise<ServiceResult<WorkerResult>>> = [];
for (let i = 0; i < nLocal; i++) runs.push(runService<WorkerResult>(worker, common('local', `local-${i}`), {}, { killAfterMs }));
for (let i = 0; i < nCalm; i++) runs.push(runService<WorkerResult>(worker, common('calm', `calm-${i}`), {}, { killAfterMs }));
for (let p = 0; p < nPairs; p++) {
  const barrier = new ProcessBarrier(2);
  for (const side of ['a', 'b']) {
    const args = [...common('cross', `pair${p}-${side}`), '--side', side, '--pair', `pair${p}`, '--lock-port', String(lockServer.port)];
    runs.push(runService<WorkerResult>(worker, args, {}, { barrier, killAfterMs }));
  }
}

// sampling while the clients run
const rss: Array<{ t: number; mb: number }> = [];
const healthzMs: number[] = [];
let lagMetricMax: number | undefined;
let done = false;
const all = Promise.all(runs).finally(() => (done = true));
let nextRss = 0;
while (!done && !hasExited(daemon.proc)) {
  const t0 = performance.now();
  const ok = await fetch(`${daemon.httpUrl}/healthz`).then((r) => r.status === 200).catch(() => false);
  if (ok) healthzMs.push(performance.now() - t0);
  if (Date.now() >= nextRss) {
    nextRss = Date.now() + 1000;
    const mb = await rssMb(daemon.proc.pid);
    if (mb !== undefined) rss.push({ t: Date.now() - started, mb });
    const m = await scrapeMetrics(daemon.httpUrl).catch(() => undefined);
    const lag = m?.get('deadlockd_event_loop_lag_seconds');
    if (lag !== undefined) lagMetricMax = Math.max(lagMetricMax ?? 0, lag);
  }
  await sleep(250);
}
const results = await all;
const died = hasExited(daemon.proc);
const detected = !died && (await healthyDeadlockDetected(daemon.url, 30_000));
const metrics = died ? undefined : await scrapeMetrics(daemon.httpUrl).catch(() => undefined);
await cleanup(daemon, lockServer);

// ---- judge --------------------------------------------------------------------------------
const findings: string[] = [];
const rows: Array<Array<string | number>> = [];
let expectedDeadlocks = 0;
let clientAborts = 0;
let falseAborts = 0;
const parsed = results.map((res, i) => {
  const w = res.result;
  if (res.code !== 0 || !w || !('mode' in w)) {
    findings.push(`client #${i} failed: exit ${res.code} signal ${res.signal}\n${res.stderr.slice(-1500)}`);
    return undefined;
  }
  return w;
});
const ok = parsed.filter((w): w is WorkerResult => w !== undefined);
for (const w of ok) {
  const aborts = w.abortsPerRound.reduce((a, b) => a + b, 0);
  clientAborts += aborts;
  falseAborts += w.falseAborts;
  if (w.mode === 'local') {
    expectedDeadlocks += w.rounds;
    const bad = w.abortsPerRound.filter((n) => n !== 1).length;
    if (bad > 0) findings.push(`${w.name}: ${bad} round(s) not resolved by exactly one abort (${JSON.stringify(w.abortsPerRound.filter((n) => n !== 1).slice(0, 5))})`);
  }
  if (w.falseAborts > 0) findings.push(`${w.name}: ${w.falseAborts} false abort(s)`);
  for (const e of w.errors) findings.push(`${w.name}: ${e}`);
  rows.push([w.name, w.mode, w.rounds, aborts, w.falseAborts, w.lockOps, w.errors.length, `${w.loopLagMs.p99}/${w.loopLagMs.max}`]);
}
for (let p = 0; p < nPairs; p++) {
  const [a, b] = [`pair${p}-a`, `pair${p}-b`].map((n) => ok.find((w) => w.name === n));
  if (!a || !b) continue;
  if (a.rounds !== b.rounds) findings.push(`pair${p}: the sides ran ${a.rounds} and ${b.rounds} rounds`);
  expectedDeadlocks += a.rounds;
  const bad = a.abortsPerRound.filter((n, i) => n + (b.abortsPerRound[i] ?? 0) !== 1).length;
  if (bad > 0) findings.push(`pair${p}: ${bad} round(s) not resolved by exactly one abort across the pair`);
}
const detectedTotal = metrics?.get('deadlockd_deadlocks_detected_total');
const abortsSent = metrics?.get('deadlockd_aborts_sent_total');
// the healthy check at the end adds one deadlock and one abort of its own
if (detectedTotal !== undefined && detectedTotal - 1 !== expectedDeadlocks) findings.push(`the daemon detected ${detectedTotal - 1} deadlocks, ${expectedDeadlocks} were formed`);
if (abortsSent !== undefined && abortsSent - 1 !== clientAborts) findings.push(`the daemon sent ${abortsSent - 1} aborts, clients saw ${clientAborts}`);
if (died) findings.push(`the daemon died\n${daemon.logs(40)}`);
if (!detected) findings.push("a healthy client's deadlock was not detected at the end");

const at = (share: number) => rss.find((s) => s.t >= share * seconds * 1000) ?? rss.at(-1);
const warm = at(WARM_UP_SHARE);
const middle = at(0.6);
const end = rss.at(-1);
const peak = rss.reduce((m, s) => Math.max(m, s.mb), 0);
if (warm && end && end.mb - warm.mb > maxGrowthMb) findings.push(`daemon RSS grew ${(end.mb - warm.mb).toFixed(1)} MB after warm-up (bound ${maxGrowthMb} MB)`);
const sorted = [...healthzMs].sort((x, y) => x - y);
const pct = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1) : '?');

console.log('');
console.log(table(['client', 'mode', 'rounds', 'DeadlockErrors', 'false aborts', 'lock ops', 'errors', 'own loop lag p99/max ms'], rows));
console.log('');
console.log(
  table(
    ['daemon', 'value'],
    [
      ['deadlocks formed by the clients', expectedDeadlocks],
      ['deadlocks detected (daemon, excl. final check)', detectedTotal === undefined ? '?' : detectedTotal - 1],
      ['aborts sent (daemon) / DeadlockErrors (clients)', `${abortsSent === undefined ? '?' : abortsSent - 1} / ${clientAborts}`],
      ['false aborts (must be 0)', falseAborts],
      ['RSS MB at warm-up / middle / end (peak)', `${warm?.mb ?? '?'} / ${middle?.mb ?? '?'} / ${end?.mb ?? '?'} (${peak})`],
      [`RSS growth after warm-up (bound ${maxGrowthMb} MB)`, warm && end ? (end.mb - warm.mb).toFixed(1) : '?'],
      ['GET /healthz ms p50 / p99 / max (event-loop lag seen from outside)', `${pct(0.5)} / ${pct(0.99)} / ${sorted.length ? sorted.at(-1)!.toFixed(1) : '?'}`],
      ['deadlockd_event_loop_lag_seconds max', lagMetricMax === undefined ? 'not exported' : lagMetricMax],
      ["a healthy client's deadlock detected at the end", detected ? 'yes' : 'NO'],
      ['findings', findings.length],
    ],
  ),
);
for (const f of findings) console.log(`finding: ${f}`);
console.log('');
console.log(`soak: ${findings.length === 0 ? 'OK' : 'FAILED'} — ${seconds} s, ${expectedDeadlocks} deadlocks, ${falseAborts} false aborts, ${findings.length} finding(s)`);
process.exit(findings.length === 0 ? 0 : 1);
