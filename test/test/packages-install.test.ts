// The packages as a user gets them: `npm pack` of proto, server and the Node SDK, the tarballs
// installed into an empty directory (third-party dependencies from the npm cache or the registry),
// then, from that directory only: the SDK imports and type-checks, `npx deadlockd --version`
// answers, and the installed `deadlockd` starts, serves /healthz and the dashboard, takes an
// SDK connection from the installed SDK, and exits 0 on SIGTERM. Slow (an npm install): minutes
// on a loaded machine, hence the long timeout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllChildren, repoRoot } from '../src/harness.js';
import { hasExited, track, waitForExit } from '../src/children.js';
import { OutputCollector } from '../src/output-lines.js';
import { STEP_MS, within } from '../src/timing.js';

const PACKAGES = ['proto', 'server', 'client-sdk/node'] as const;
/**
 * An npm install on a loaded machine, from the cache or the registry. Most of it is building
 * better-sqlite3 from source (node-gyp; no prebuilt binary is reachable here): ~2 CPU-minutes
 * on a quiet machine, over 400 s once with both cores busy and other test files running.
 */
const INSTALL_LIMIT_MS = 900_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment for npm and the installed programs: none of the npm_* variables of the
 * `npm test` this may run under (a workspace or a prefix there would redirect the install),
 * except where the cache and the registry are.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry']);
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') || keep.has(k.toLowerCase())));
}

/** Runs a command to its end (killed past `limitMs`). */
function run(command: string, args: string[], cwd: string, limitMs = STEP_MS): Promise<Run> {
  const proc = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const kill = setTimeout(() => proc.kill('SIGKILL'), limitMs);
  return new Promise((resolve) =>
    proc.once('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    }),
  );
}

const show = (what: string, r: Run) => `${what}: exit ${r.code}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;

interface PackResult {
  name: string;
  filename: string;
  files: { path: string }[];
}

after(() => killAllChildren());

describe('packages: packed, installed into an empty directory, used from there', () => {
  let dir: string;
  let app: string;
  let packs: PackResult[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'packages-install-'));
    const tarballs = join(dir, 'tarballs');
    mkdirSync(tarballs);
    const pack = await run('npm', ['pack', '--json', '--pack-destination', tarballs, ...PACKAGES.flatMap((p) => ['--workspace', p])], repoRoot);
    assert.equal(pack.code, 0, show('npm pack', pack));
    packs = JSON.parse(pack.stdout) as PackResult[];
    app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'install-check', private: true, type: 'module' }, null, 2));
    const install = await run(
      'npm',
      // npm's default fetch timeout is 5 minutes: one stalled registry request outlasted the whole
      // limit once. A stalled request is given up after 60 s and retried instead.
      ['install', '--no-audit', '--no-fund', '--prefer-offline', '--fetch-timeout=60000', '--fetch-retries=4', ...packs.map((p) => join(tarballs, p.filename))],
      app,
      INSTALL_LIMIT_MS,
    );
    assert.equal(install.code, 0, show('npm install of the tarballs', install));
  }, { timeout: INSTALL_LIMIT_MS + 60_000 });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('each tarball carries its build, types, README and LICENSE, and no sources, tests or compiled tests', () => {
    assert.deepEqual(packs.map((p) => p.name).sort(), ['@deadlockd/client', '@deadlockd/proto', '@deadlockd/server']);
    const license = readFileSync(join(repoRoot, 'LICENSE'), 'utf8');
    for (const p of packs) {
      const files = p.files.map((f) => f.path);
      for (const f of ['package.json', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts']) assert.ok(files.includes(f), `${p.name} ships ${f}`);
      assert.deepEqual(files.filter((f) => /^(src|test)\/|^dist\/test\/|\.tsbuildinfo$|tsconfig\.json$/.test(f)), [], `${p.name} ships no sources or tests`);
      const manifest = JSON.parse(readFileSync(join(app, 'node_modules', p.name, 'package.json'), 'utf8')) as Record<string, unknown>;
      for (const field of ['license', 'engines', 'repository', 'types', 'exports', 'files']) assert.ok(manifest[field], `${p.name} declares ${field}`);
      assert.equal(manifest['license'], 'MIT');
      assert.equal(readFileSync(join(app, 'node_modules', p.name, 'LICENSE'), 'utf8'), license, `${p.name}'s LICENSE is the repository's`);
    }
    const server = packs.find((p) => p.name === '@deadlockd/server')!.files.map((f) => f.path);
    assert.ok(['bin/deadlockd.js', 'dist/src/cli.js', 'dashboard-assets/index.html'].every((f) => server.includes(f)), 'the daemon ships its command, its CLI and the dashboard');
    for (const p of packs) assert.ok(p.files.some((f) => f.path === 'README.md'), `${p.name} ships its README`);
  });

  test('the installed SDK imports, and a TypeScript file using it type-checks against the shipped .d.ts', { timeout: STEP_MS * 4 }, async () => {
    writeFileSync(
      join(app, 'use-sdk.mjs'),
      [
        "import { connect, DeadlockError, isDeadlockError } from '@deadlockd/client';",
        "import { PROTOCOL_VERSION } from '@deadlockd/proto';",
        "console.log(JSON.stringify({ connect: typeof connect, DeadlockError: typeof DeadlockError, isDeadlockError: typeof isDeadlockError, PROTOCOL_VERSION }));",
      ].join('\n'),
    );
    const imported = await run(process.execPath, ['use-sdk.mjs'], app);
    assert.equal(imported.code, 0, show('import the SDK', imported));
    const seen = JSON.parse(imported.stdout) as Record<string, unknown>;
    assert.deepEqual({ ...seen, PROTOCOL_VERSION: typeof seen['PROTOCOL_VERSION'] }, { connect: 'function', DeadlockError: 'function', isDeadlockError: 'function', PROTOCOL_VERSION: 'number' });

    writeFileSync(
      join(app, 'use-sdk.ts'),
      [
        "import { connect, isDeadlockError, type Client, type DeadlockReport } from '@deadlockd/client';",
        'export async function demo(url: string): Promise<number> {',
        "  const dd: Client = await connect({ url, service: 'install-check' });",
        "  const m = dd.mutex('a');",
        '  const h = await m.acquire();',
        '  h.release();',
        '  const onReport = (r: DeadlockReport): string => r.id;',
        "  dd.on('deadlock', (r) => onReport(r));",
        '  await dd.close();',
        '  return isDeadlockError(new Error()) ? 1 : 0;',
        '}',
        '// a wrong type must fail the check: the .d.ts are real, not `any`',
        '// @ts-expect-error mutex() takes a string name',
        'export const bad = (dd: Client) => dd.mutex(42);',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        // a TypeScript user of a Node SDK has @types/node (the repository's, here)
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, typeRoots: [join(repoRoot, 'node_modules', '@types')], types: ['node'] },
        files: ['use-sdk.ts'],
      }),
    );
    const tsc = await run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app, STEP_MS * 3);
    assert.equal(tsc.code, 0, show('tsc against the installed .d.ts', tsc));
  });

  test('`npx deadlockd --version` prints the version', { timeout: STEP_MS * 2 }, async () => {
    const version = (JSON.parse(readFileSync(join(repoRoot, 'server', 'package.json'), 'utf8')) as { version: string }).version;
    const r = await run('npx', ['--no-install', 'deadlockd', '--version'], app, STEP_MS * 2);
    assert.equal(r.code, 0, show('npx deadlockd --version', r));
    assert.equal(r.stdout.trim(), `deadlockd ${version}`);
  });

  test('the installed deadlockd starts, serves /healthz and the dashboard, takes an SDK connection, and exits 0 on SIGTERM', { timeout: STEP_MS * 6 }, async () => {
    const bin = join(app, 'node_modules', '.bin', 'deadlockd');
    assert.ok(existsSync(bin), 'npm linked the deadlockd command');
    // the command itself (its shebang runs node), as `npx deadlockd` does
    const proc: ChildProcess = spawn(bin, ['--port', '0'], { cwd: app, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    track(proc);
    const output = new OutputCollector(proc.stdout, proc.stderr);
    try {
      const m = await within(STEP_MS * 2, 'the installed daemon to log where it listens', output.waitForLine(/deadlockd listening on (http:\/\/127\.0\.0\.1:\d+) /), () => output.tail());
      const url = m[1]!;
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
      const page = await fetch(`${url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
      const sigma = await fetch(`${url}/vendor/sigma.min.js`);
      assert.equal(sigma.status, 200, 'the dashboard bundles resolve from the installed dependencies');
      // read to the end: a response left half-read keeps its connection busy, and the daemon's close waits for it
      assert.ok((await sigma.arrayBuffer()).byteLength > 10_000);

      writeFileSync(
        join(app, 'connect.mjs'),
        [
          "import { connect } from '@deadlockd/client';",
          "const dd = await connect({ url: process.argv[2], service: 'install-check', connectTimeoutMs: 30000 });",
          'console.log(JSON.stringify({ connected: dd.connected }));',
          'await dd.close();',
        ].join('\n'),
      );
      const client = await run(process.execPath, ['connect.mjs', `${url.replace(/^http/, 'ws')}/v1/stream`], app, STEP_MS * 2);
      assert.equal(client.code, 0, show('the installed SDK connecting', client));
      assert.deepEqual(JSON.parse(client.stdout), { connected: true });

      proc.kill('SIGTERM');
      const exit = await within(STEP_MS, 'the daemon to exit on SIGTERM', waitForExit(proc), () => output.tail());
      assert.equal(exit.code, 0, output.tail());
    } finally {
      if (!hasExited(proc)) {
        proc.kill('SIGKILL');
        await waitForExit(proc);
      }
    }
  });
});
