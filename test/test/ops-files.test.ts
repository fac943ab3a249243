// deploy/: the Prometheus alert rules and the Grafana dashboard we ship, checked against a real
// daemon. promtool (Debian's `prometheus` package; .ci/run installs it) lints the daemon's live
// /metrics, parses the rules and runs their unit tests, and parses every dashboard query as PromQL;
// every metric the rules and the dashboard name must be one the daemon exports. Without promtool
// the promtool checks skip, saying so; the metric-name checks run anyway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@deadlockd/client';
import { cleanup, repoRoot, type Daemon } from '../src/harness.js';
import { runCycleRound } from '../src/cycle-round.js';
import { closeSdk, connectSdk, startSweepingDaemon } from '../src/watched-session.js';
import { HOOK_TIMEOUT, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';

const RULES = join(repoRoot, 'deploy', 'prometheus', 'deadlockd-alerts.yml');
const RULES_TESTS = join(repoRoot, 'deploy', 'prometheus', 'deadlockd-alerts.test.yml');
const DASHBOARD = join(repoRoot, 'deploy', 'grafana', 'deadlockd-dashboard.json');

const NAMESPACE_TOKEN = 'ops-files-token';
const METRICS_TOKEN = 'ops-files-metrics';

/** promtool's version line, or undefined when it is not installed. */
function promtoolVersion(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.split('\n')[0] : undefined;
}
const PROMTOOL = promtoolVersion();
const NO_PROMTOOL = 'promtool not installed: apt-get install prometheus (Debian), or put promtool on PATH';

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }), timeout: STEP_MS });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * promtool lint findings we accept: prom-client's standard Node.js gauges end in `_total`
 * (nodejs_active_handles_total…). Their names are what Node.js dashboards query, so we keep them.
 */
const ACCEPTED_LINT = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

/** Metrics the files name that another change adds; absent from a build without it (said in the test's output). */
const ADDED_ELSEWHERE = new Set(['deadlockd_oldest_wait_seconds']);

const METRIC_NAME = /\b(?:deadlockd|process|nodejs)_[a-z0-9_]+\b/g;

/** Every metric a PromQL text names (ours and the standard process ones). */
const metricNames = (promql: string): string[] => [...new Set(promql.match(METRIC_NAME) ?? [])];

/** The names a /metrics text declares (`# TYPE`), with a histogram's _bucket/_sum/_count series. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram' || m[2] === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${s}`);
  }
  return names;
}

/** The rules file's `expr:` lines (each rule's expression is one line, which the rule count checks). */
function ruleExpressions(): string[] {
  return [...readFileSync(RULES, 'utf8').matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
}

interface DashboardPanel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: DashboardPanel[];
}

/** Every panel query of the dashboard, and the template variables' queries. */
function dashboardQueries(): { panels: { title: string; expr: string }[]; variables: string[] } {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: DashboardPanel[]; templating: { list: { query?: unknown }[] } };
  const panels: { title: string; expr: string }[] = [];
  const walk = (ps: DashboardPanel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) if (t.expr) panels.push({ title: p.title ?? '?', expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  const variables = d.templating.list
    .map((v) => (typeof v.query === 'object' && v.query !== null ? (v.query as { query?: string }).query : undefined))
    .filter((q): q is string => typeof q === 'string');
  return { panels, variables };
}

/** A Grafana query as plain PromQL: its variables replaced by what they stand for. */
const asPromql = (expr: string): string =>
  expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replace(/\$\{?\w+\}?/g, '.*');

describe('deploy/: alert rules and dashboard against a live daemon', () => {
  let daemon: Daemon;
  let dd: Client | undefined;
  /** /metrics as the metrics token (everything) and as a namespace's token */
  let everything = '';
  let oneNamespace = '';

  before(async () => {
    daemon = await startSweepingDaemon(['--tokens', `${NAMESPACE_TOKEN}=ops`, '--metrics-token', METRICS_TOKEN]);
    dd = await connectSdk(daemon.url, 'ops-files', { token: NAMESPACE_TOKEN });
    // one real deadlock, so the deadlock counters, the aborts and the batch histogram have samples
    const a = dd.mutex('account:a');
    const b = dd.mutex('account:b');
    const outcome = await within(STEP_MS, 'one deadlock round', runCycleRound(dd, [{ name: 'a->b', first: a, second: b }, { name: 'b->a', first: b, second: a }], 0), () => daemon.logs());
    assert.equal(outcome.deadlocks.length, 1, daemon.logs());
    const scrape = async (token: string) => {
      const res = await fetch(`${daemon.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      return res.text();
    };
    everything = await scrape(METRICS_TOKEN);
    oneNamespace = await scrape(NAMESPACE_TOKEN);
  }, HOOK_TIMEOUT);

  after(async () => {
    await closeSdk(dd);
    await cleanup(daemon);
  });

  test('the live /metrics carries the deadlock counters per namespace and the standard process metrics', () => {
    assert.match(everything, /^deadlockd_deadlocks_detected_total\{namespace="ops"\} 1$/m);
    assert.match(everything, /^deadlockd_aborts_sent_total\{namespace="ops"\} 1$/m);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.match(everything, new RegExp(`^${name} \\d`, 'm'), name);
    }
    // a namespace's token: its own series, nothing process-wide
    assert.match(oneNamespace, /^deadlockd_deadlocks_detected_total\{namespace="ops"\} 1$/m);
    assert.doesNotMatch(oneNamespace, /^(process|nodejs)_/m);
  });

  test('promtool check metrics: the live /metrics lints clean, as the metrics token and as a namespace token', TEST_TIMEOUT, (t) => {
    if (!PROMTOOL) return t.skip(NO_PROMTOOL);
    t.diagnostic(PROMTOOL);
    for (const [who, text] of [
      ['metrics token', everything],
      ['namespace token', oneNamespace],
    ] as const) {
      const r = promtool(['check', 'metrics'], text);
      const problems = r.output.split('\n').filter((l) => l.trim() !== '' && !ACCEPTED_LINT.test(l.trim()));
      assert.deepEqual(problems, [], `${who}: promtool check metrics (exit ${r.status}):\n${r.output}`);
      // 0 clean, 3 lint findings (only the accepted ones, checked above); anything else is promtool failing
      assert.ok(r.status === 0 || r.status === 3, `${who}: promtool exited ${r.status}:\n${r.output}`);
    }
  });

  test('promtool check rules and test rules: the alerts parse, and each fires on what it is meant for and not on its neighbours', TEST_TIMEOUT, (t) => {
    if (!PROMTOOL) return t.skip(NO_PROMTOOL);
    const check = promtool(['check', 'rules', RULES]);
    assert.equal(check.status, 0, check.output);
    const found = /SUCCESS: (\d+) rules found/.exec(check.output);
    assert.equal(Number(found?.[1]), ruleExpressions().length, `every rule's expr is on one line (the name checks read them)\n${check.output}`);
    const unit = promtool(['test', 'rules', RULES_TESTS]);
    assert.equal(unit.status, 0, unit.output);
    // every alert has a unit test
    const alerts = [...readFileSync(RULES, 'utf8').matchAll(/^\s+- alert: (\S+)$/gm)].map((m) => m[1]!);
    const tested = new Set([...readFileSync(RULES_TESTS, 'utf8').matchAll(/^\s+alertname: (\S+)$/gm)].map((m) => m[1]!));
    assert.deepEqual(alerts.filter((a) => !tested.has(a)), [], 'alerts without a unit test');
  });

  test("every dashboard query parses as PromQL (promtool)", TEST_TIMEOUT, (t) => {
    if (!PROMTOOL) return t.skip(NO_PROMTOOL);
    const { panels } = dashboardQueries();
    assert.ok(panels.length >= 10, `the dashboard has its panels (${panels.length} queries)`);
    // the queries as recording rules: promtool parses each one (JSON is YAML)
    const dir = mkdtempSync(join(tmpdir(), 'ops-files-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      const rules = panels.map((p, i) => ({ record: `dashboard_query_${i}`, expr: asPromql(p.expr) }));
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = promtool(['check', 'rules', file]);
      assert.equal(r.status, 0, `${r.output}\n${panels.map((p, i) => `dashboard_query_${i}: ${p.title}`).join('\n')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the alert rules and the dashboard name only metrics the daemon exports', (t) => {
    const exported = exportedNames(everything);
    const { panels, variables } = dashboardQueries();
    const named = new Map<string, string>(); // metric → where
    for (const e of ruleExpressions()) for (const n of metricNames(e)) named.set(n, 'deadlockd-alerts.yml');
    for (const p of panels) for (const n of metricNames(p.expr)) named.set(n, `dashboard panel "${p.title}"`);
    for (const v of variables) for (const n of metricNames(v)) named.set(n, 'dashboard variable');
    assert.ok(named.size >= 15, `the files name the daemon's metrics (${named.size})`);
    const missing = [...named].filter(([n]) => !exported.has(n) && !ADDED_ELSEWHERE.has(n));
    assert.deepEqual(missing, [], 'metrics named in deploy/ that the daemon does not export');
    for (const n of ADDED_ELSEWHERE) if (!exported.has(n)) t.diagnostic(`${n} is not exported by this build (it comes with the long-waits change); not checked`);
  });
});
