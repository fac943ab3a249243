// The `deadlockd` binary as a real child process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectClient } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
/** the daemon's one startup line: a JSON log line whose msg says where it listens */
const LISTENING = /"msg":"deadlockd listening on (http:\/\/[^\s"]+)([^"]*)"/;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Every complete line of stdout, each parsed as JSON (throws on a line that is not). */
function logLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .slice(0, -1)
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`a stdout line is not JSON: ${line}`);
      }
    });
}

/** Waits until stdout has a line for which `match` holds. */
async function waitForStdout(r: Run, what: string, match: (stdout: string) => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!match(r.stdout())) {
    if (r.child.exitCode !== null) throw new Error(`daemon exited: ${r.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no ${what}; stdout: ${r.stdout()} stderr: ${r.stderr()}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DEADLOCKD_')));
  // no history file (tests that want one say so): a shared ./data/history.sqlite would carry state between runs
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...clean, DEADLOCKD_HISTORY_FILE: ':memory:', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Failsafe: kill the child if the test did not end it, so nothing hangs. */
async function withChild<T>(r: Run, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }
}

async function listeningUrl(r: Run): Promise<{ url: string; rest: string }> {
  const deadline = Date.now() + 60_000; // a node process starting on a loaded machine
  for (;;) {
    const m = LISTENING.exec(r.stdout());
    if (m) return { url: m[1]!, rest: m[2]! };
    if (r.child.exitCode !== null) throw new Error(`daemon exited: ${r.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no listening line; stdout: ${r.stdout()} stderr: ${r.stderr()}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe('deadlockd CLI', () => {
  it('prints where it listens, serves /healthz, and exits 0 on SIGTERM after closing sockets', async () => {
    const r = run(['--port', '0', '--log-level', 'warn']);
    await withChild(r, async () => {
      const { url, rest } = await listeningUrl(r);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(rest, /loopback/);
      const res = await fetch(`${url}/healthz`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { status: string; uptimeSeconds: number };
      assert.equal(body.status, 'ok');
      assert.equal(typeof body.uptimeSeconds, 'number');

      const { client } = await connectClient(`${url.replace('http', 'ws')}/v1/stream`);
      r.child.kill('SIGTERM');
      const closed = await client.waitClosed();
      assert.equal(closed.code, 1001);
      const exit = await r.exited;
      assert.equal(exit.code, 0, r.stderr());
    });
  });

  it('exits 2 with a message naming the bad setting', async () => {
    const r = run([], { DEADLOCKD_PORT: 'seventy' });
    await withChild(r, async () => {
      const exit = await r.exited;
      assert.equal(exit.code, 2);
      assert.match(r.stderr(), /DEADLOCKD_PORT/);
      assert.match(r.stderr(), /--port/);
    });
  });

  it('--help prints every setting and exits 0', async () => {
    const r = run(['--help']);
    await withChild(r, async () => {
      const exit = await r.exited;
      assert.equal(exit.code, 0);
      assert.match(r.stdout(), /DEADLOCKD_CONFIRM_TIMEOUT_MS/);
      assert.match(r.stdout(), /--victim-order/);
      assert.match(r.stdout(), /--version/);
    });
  });

  it('the deadlockd command (bin/deadlockd.js) runs the CLI, and says what to do when it is not compiled yet', async () => {
    const bin = fileURLToPath(new URL('../../bin/deadlockd.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^deadlockd \d+\.\d+\.\d+/);
    // the same file where no dist/ sits beside it: a checkout before `npm run build`
    const dir = mkdtempSync(join(tmpdir(), 'deadlockd-bin-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(bin, join(dir, 'bin', 'deadlockd.js'));
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      const unbuilt = spawnSync(process.execPath, [join(dir, 'bin', 'deadlockd.js'), '--version'], { encoding: 'utf8' });
      assert.equal(unbuilt.status, 1);
      assert.match(unbuilt.stderr, /not compiled yet .*run `npm run build`/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const r = run([flag]);
      await withChild(r, async () => {
        const exit = await r.exited;
        assert.equal(exit.code, 0, r.stderr());
        assert.equal(r.stdout(), `deadlockd ${version}\n`);
      });
    }
  });

  it('writes only JSON lines to stdout, probes and scrapes at debug, other requests at info', async () => {
    for (const level of ['info', 'debug'] as const) {
      const r = run(['--port', '0', '--log-level', level]);
      await withChild(r, async () => {
        const { url } = await listeningUrl(r);
        for (const path of ['/healthz', '/readyz', '/metrics', '/v1/stats']) assert.equal((await fetch(`${url}${path}`)).status, 200, path);
        // /v1/stats was asked last: once its line is there, the probes' lines would be too
        await waitForStdout(r, 'request completed line of /v1/stats', (out) => logLines(out).filter((l) => l.msg === 'request completed').length >= (level === 'debug' ? 4 : 1));
        r.child.kill('SIGTERM');
        assert.equal((await r.exited).code, 0, r.stderr());
        const lines = logLines(r.stdout());
        const started = lines.find((l) => l.msg.startsWith('deadlockd listening on '));
        assert.ok(started, 'the listening line is a JSON log line');
        assert.equal(started.url, url);
        assert.equal(typeof started.version, 'string');
        const incoming = lines.filter((l) => l.msg === 'incoming request');
        const levelOf = (path: string) => incoming.filter((l) => (l.req as { url: string }).url === path).map((l) => l.level);
        assert.deepEqual(levelOf('/v1/stats'), [30]);
        for (const probe of ['/healthz', '/readyz', '/metrics']) assert.deepEqual(levelOf(probe), level === 'debug' ? [20] : [], probe);
      });
    }
  });

  it('the listening line is logged at --log-level warn too', async () => {
    const r = run(['--port', '0', '--log-level', 'warn']);
    await withChild(r, async () => {
      await listeningUrl(r);
      r.child.kill('SIGTERM');
      await r.exited;
      assert.deepEqual(logLines(r.stdout()).map((l) => l.msg.replace(/ on .*/, ' on …')), ['deadlockd listening on …']);
    });
  });

  it('--log-format pretty writes readable lines (pino-pretty)', async () => {
    const r = run(['--port', '0', '--log-format', 'pretty']);
    await withChild(r, async () => {
      await waitForStdout(r, 'pretty listening line', (out) => /INFO \(\d+\): deadlockd listening on http:\/\/127\.0\.0\.1:\d+ /.test(out));
      assert.doesNotMatch(r.stdout(), /^\{/m, 'no JSON line');
      r.child.kill('SIGTERM');
      assert.equal((await r.exited).code, 0, r.stderr());
    });
  });
});
