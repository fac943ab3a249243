// The sidecar image, without a Docker engine: scripts/replay-dockerfile.mjs builds every stage of the
// Dockerfile from a clean copy of the repo (two real `npm ci` runs), starts the CMD with the image's
// ENV and checks /healthz, the image's HEALTHCHECK command, the dashboard and a clean SIGTERM exit.
// A real child process; slow (minutes on a busy machine), hence the long timeout.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllChildren, repoRoot } from '../src/harness.js';
import { track } from '../src/children.js';

const script = join(repoRoot, 'scripts', 'replay-dockerfile.mjs');

after(() => killAllChildren());

interface Replay {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the replay; past `limitMs` it gets SIGTERM (it then kills its own children), then SIGKILL. */
function replay(args: string[], limitMs: number): Promise<Replay> {
  const proc = spawn(process.execPath, [script, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const term = setTimeout(() => proc.kill('SIGTERM'), limitMs);
  const kill = setTimeout(() => proc.kill('SIGKILL'), limitMs + 10_000);
  return new Promise((resolve) => {
    proc.once('close', (code, signal) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const describe = (r: Replay) =>
  `exit ${r.code} signal ${r.signal}\n--- stdout ---\n${r.stdout.slice(-6000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;

/** The temp dir the replay announced; it must be gone afterwards. */
const tempDirOf = (r: Replay) => /copied to (\S+)\/context\b/.exec(r.stdout)?.[1];

test('the Dockerfile replays: both stages build, the image answers /healthz, its HEALTHCHECK and dashboard, and stops on SIGTERM', { timeout: 600_000 }, async () => {
  const r = await replay([], 570_000);
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, /stage 'build': FROM node:20-bookworm-slim/);
  assert.match(r.stdout, /RUN npm ci --omit=dev/);
  assert.match(r.stdout, /USER node: reported, not switched/);
  assert.match(r.stdout, /DEADLOCKD_PORT overridden to \d+/);
  assert.match(r.stdout, /check: GET \/healthz → 200 \{"status":"ok"/);
  assert.match(r.stdout, /check: HEALTHCHECK command exits 0/);
  assert.match(r.stdout, /check: GET \/ → 200, and its \d+ linked assets → 200 \(.*\/vendor\/sigma\.min\.js/);
  assert.match(r.stdout, /check: SIGTERM → exit 0/);
  assert.match(r.stdout, /\[replay\] OK: 2 stages built/);
  const tmp = tempDirOf(r);
  assert.ok(tmp, 'the replay names its temp dir');
  assert.equal(existsSync(tmp), false, `${tmp} was removed`);
});

test('an instruction the replay does not implement fails it loudly, before anything runs', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-test-'));
  try {
    const file = join(dir, 'Dockerfile');
    writeFileSync(file, `FROM node:${process.versions.node.split('.')[0]}-bookworm-slim\nADD https://example.com/x.tgz /x.tgz\nCMD ["node"]\n`);
    // it fails before any RUN: no npm cache is needed (and copying the host's races with other npm runs)
    const r = await replay(['--dockerfile', file, '--no-seed-cache'], 50_000);
    assert.equal(r.code, 1, describe(r));
    assert.match(r.stderr, /FAILED: Dockerfile line 2: unsupported instruction ADD/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a COPY of something that is not in the clean copy of the repo fails the replay', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-test-'));
  try {
    const file = join(dir, 'Dockerfile');
    // dist/ is built, never tracked: an image that copied it from the working tree would only work on a dirty one
    writeFileSync(file, `FROM node:${process.versions.node.split('.')[0]}-bookworm-slim\nWORKDIR /app\nCOPY server/dist server/dist\n`);
    // it fails at a COPY, before any RUN: no npm cache is needed (and copying the host's races with other npm runs)
    const r = await replay(['--dockerfile', file, '--no-seed-cache'], 100_000);
    assert.equal(r.code, 1, describe(r));
    assert.match(r.stderr, /FAILED: Dockerfile line 3: COPY source server\/dist not found in the context \(is it git-tracked\?\)/);
    const tmp = tempDirOf(r);
    assert.ok(tmp && !existsSync(tmp), `the temp dir ${tmp} was removed`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
