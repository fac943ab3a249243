// npm run fuzz [-- --seed N] [--seconds S] [--category C …] [--known-issue KEY …]
//
// Starts its own daemon (127.0.0.1, an ephemeral port), sends fast-check–generated hostile
// frames for S seconds (default 60), each on a fresh connection, and checks every one is
// accepted or answered with a documented error code (see probe.ts). At the end the daemon must
// still be alive and a healthy client's deadlock must still be detected. Prints a table; exits 1
// on any finding. The seed is printed first: `--seed` replays the same sequence of cases.
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { startDaemon, killAllChildren } from '../harness.js';
import { hasExited } from '../children.js';
import { rssMb, table } from '../report-table.js';
import { CATEGORIES, fuzzCase, type Category, type FuzzCase } from './cases.js';
import { healthyDeadlockDetected } from './healthy-deadlock.js';
import { probe, type Outcome } from './probe.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    category: { type: 'string', multiple: true },
    'known-issue': { type: 'string', multiple: true },
    // a quarter of the daemon's default: big enough for every hostile value, small enough to send fast
    'max-frame-bytes': { type: 'string', default: '262144' },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const seconds = Number(values.seconds);
const only = (values.category ?? [...CATEGORIES]) as Category[];
const known = new Set(values['known-issue'] ?? []);
const maxFrameBytes = Number(values['max-frame-bytes']);
for (const c of only) if (!CATEGORIES.includes(c)) throw new Error(`unknown --category ${c}; one of ${CATEGORIES.join(', ')}`);
if (!Number.isInteger(seed) || !(seconds > 0)) throw new Error('--seed must be an integer and --seconds positive');

console.log(`fuzz: seed ${seed} (replay: npm run fuzz -- --seed ${seed}), ${seconds} s, categories ${only.join(', ')}`);

const daemon = await startDaemon(['--max-frame-bytes', String(maxFrameBytes), '--log-level', 'warn']);
const pid = daemon.proc.pid;
const rssStart = await rssMb(pid);

interface Row {
  cases: number;
  accepted: number;
  rejected: number;
  codes: Map<string, number>;
  findings: number;
}
const rows = new Map<Category, Row>(only.map((c) => [c, { cases: 0, accepted: 0, rejected: 0, codes: new Map(), findings: 0 }]));
const findings: Array<{ n: number; c: FuzzCase; key: string; detail: string; known: boolean }> = [];
const arb = fuzzCase(maxFrameBytes, only);
const deadline = Date.now() + seconds * 1000;
let n = 0;
let died = false;

// Batches of cases, each batch from seed+batch: the whole sequence is a function of --seed.
for (let batch = 0; Date.now() < deadline && !died; batch++) {
  for (const c of fc.sample(arb, { seed: seed + batch, numRuns: 25 })) {
    if (Date.now() >= deadline) break;
    n++;
    const row = rows.get(c.category)!;
    row.cases++;
    let outcome: Outcome = await probe(daemon.url, c);
    if (hasExited(daemon.proc)) {
      outcome = { kind: 'finding', key: 'daemon-died', detail: `the daemon exited\n${daemon.logs(40)}` };
      died = true;
    }
    if (outcome.kind === 'accepted') {
      row.accepted++;
      for (const code of outcome.codes) row.codes.set(code, (row.codes.get(code) ?? 0) + 1);
    } else if (outcome.kind === 'rejected') {
      row.rejected++;
      row.codes.set(outcome.code, (row.codes.get(outcome.code) ?? 0) + 1);
    } else {
      row.findings++;
      findings.push({ n, c, key: outcome.key, detail: outcome.detail, known: known.has(outcome.key) });
    }
  }
}

const rssEnd = await rssMb(pid);
const healthz = died ? 0 : await fetch(`${daemon.httpUrl}/healthz`).then((r) => r.status).catch(() => 0);
const detected = !died && (await healthyDeadlockDetected(daemon.url, 30_000));
await daemon.stop();
await killAllChildren();

const codeSummary = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}:${v}`).join(' ') || '-';
console.log('');
console.log(
  table(
    ['category', 'cases', 'accepted', 'rejected', 'findings', 'error codes seen'],
    [...rows].map(([c, r]) => [c, r.cases, r.accepted, r.rejected, r.findings, codeSummary(r.codes)]),
  ),
);
console.log('');
console.log(
  table(
    ['check', 'result'],
    [
      ['cases sent', n],
      ['daemon alive at the end', died ? 'NO' : 'yes'],
      ['/healthz', healthz],
      ["a healthy client's deadlock detected", detected ? 'yes' : 'NO'],
      ['daemon RSS start → end (MB)', `${rssStart ?? '?'} → ${rssEnd ?? '?'}`],
    ],
  ),
);
const real = findings.filter((f) => !f.known);
const byKey = new Map<string, typeof findings>();
for (const f of findings) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f]);
if (findings.length > 0) {
  console.log('');
  console.log('findings (first of each kind; replay with --seed, case numbers count from 1):');
  for (const [key, list] of byKey) {
    const f = list[0]!;
    const preview = typeof f.c.payload === 'string' ? f.c.payload.slice(0, 120) : `<${f.c.payload.length} bytes>`;
    console.log(`  ${key}${f.known ? ' (known issue, --known-issue)' : ''}: ${list.length} case(s); first #${f.n} [${f.c.category}] ${f.c.label}${f.c.preHello ? ' (before hello)' : ''}`);
    console.log(`    ${f.detail}`);
    console.log(`    payload: ${JSON.stringify(preview)}`);
  }
}
const ok = real.length === 0 && !died && healthz === 200 && detected;
console.log('');
console.log(`fuzz: ${ok ? 'OK' : 'FAILED'} — seed ${seed}, ${n} cases, ${real.length} finding(s)${findings.length > real.length ? `, ${findings.length - real.length} known` : ''}`);
process.exit(ok ? 0 : 1);
