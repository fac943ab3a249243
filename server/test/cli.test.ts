// The `deadlockd` binary as a real child process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectClient } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const LISTENING = /^deadlockd listening on (http:\/\/\S+)(.*)$/m;

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
    });
  });
});
