// End-to-end harness: starts the real daemon, the real cross-process lock
// service and scenario services as child processes, and always cleans up.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { OutputCollector } from './output-lines.js';
import { hasExited, killAllChildren, track, waitForExit } from './children.js';
import { STEP_MS, within } from './timing.js';
import type { ProcessBarrier } from './process-barrier.js';

export { killAllChildren } from './children.js';

/** The repository root (this file is compiled to test/dist/src/harness.js). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Compiled scenario scripts live here: test/dist/src/services/<name>.js */
export function servicePath(name: string): string {
  return join(repoRoot, 'test', 'dist', 'src', 'services', `${name}.js`);
}

/** A daemon or service starting on a loaded machine (node startup alone can take seconds there). */
const STARTUP_LIMIT_MS = 60_000;

/** --confirm-timeout-ms of the daemons the harness starts. */
const CONFIRM_TIMEOUT_MS = 30_000;

/** A service still running after this long is killed: below TEST_TIMEOUT so the kill is what the test reports. */
const SERVICE_KILL_MS = 150_000;

export interface Daemon {
  /** WebSocket endpoint for SDKs: ws://127.0.0.1:<port>/v1/stream */
  url: string;
  /** http://127.0.0.1:<port> */
  httpUrl: string;
  port: number;
  proc: ChildProcess;
  /** Everything the daemon printed so far (tail), for failure messages. */
  logs(max?: number): string;
  /**
   * Resolves with the first log line (past or future) matching `re`. The daemon's output
   * reaches us through a pipe, behind what it already did over HTTP: wait, don't just look.
   */
  waitForLog(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** SIGTERM and wait for the process to exit (SIGKILL if it will not). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<void>;
}

/**
 * Extra node flags for every daemon the harness starts, space-separated: a profiling aid
 * (`DEADLOCKD_DAEMON_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npm run bench`), for the
 * V8 flags NODE_OPTIONS does not take (--cpu-prof-interval, --trace-gc).
 */
const daemonNodeFlags = (process.env['DEADLOCKD_DAEMON_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');

/** Spawns `node server/dist/src/cli.js --port 0 …args` and waits for its listening line. */
export async function startDaemon(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const cli = join(repoRoot, 'server', 'dist', 'src', 'cli.js');
  const proc = spawn(process.execPath, [...daemonNodeFlags, '--enable-source-maps', cli, '--port', '0', ...args], {
    cwd: repoRoot,
    // SDK clients in loaded processes answer confirm rounds: a deadline they always meet (the
    // default is 2 s), unless a caller sets its own (flag or env); and no history file unless a
    // caller names one: each test daemon starts with an empty history
    env: { DEADLOCKD_CONFIRM_TIMEOUT_MS: String(CONFIRM_TIMEOUT_MS), DEADLOCKD_HISTORY_FILE: ':memory:', ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  const output = new OutputCollector(proc.stdout, proc.stderr);
  const exited = closed(proc).then(({ code, signal }) => {
    throw new Error(`daemon exited before listening (code ${code}, signal ${signal})\n${output.tail()}`);
  });
  let m: RegExpMatchArray;
  try {
    m = await within(
      STARTUP_LIMIT_MS,
      'the daemon to print "deadlockd listening on http://…"',
      Promise.race([output.waitForLine(/deadlockd listening on (http:\/\/([^\s:/]+|\[[^\]]+\]):(\d+))/), exited]),
      () => output.tail(),
    );
  } catch (e) {
    proc.kill('SIGKILL');
    await waitForExit(proc);
    throw e;
  }
  exited.catch(() => {}); // the daemon exiting later is the test's business, not an unhandled rejection
  const httpUrl = m[1]!;
  const port = Number(m[3]);
  const wsBase = httpUrl.replace(/^http/, 'ws');
  return {
    url: `${wsBase}/v1/stream`,
    httpUrl,
    port,
    proc,
    logs: (max) => output.tail(max),
    waitForLog: (re, ms = STEP_MS) => within(ms, `a daemon log line matching ${re}`, output.waitForLine(re), () => output.tail()),
    stop: () => terminate(proc, 'SIGTERM'),
    kill9: () => terminate(proc, 'SIGKILL'),
  };
}

/** Resolves on 'close' (exited AND its output fully read), for startup failure messages. */
function closed(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
}

async function terminate(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (hasExited(proc)) return;
  proc.kill(signal);
  // a daemon that ignores SIGTERM must not hang the suite
  const escalate = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await waitForExit(proc);
  clearTimeout(escalate);
}

export interface ServiceResult<R = unknown> {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the last stdout line that parsed as JSON (the service's result), or undefined */
  result: R | undefined;
  stdout: string;
  stderr: string;
}

export interface RunServiceOptions {
  /** coordinates barrier() calls between several services (IPC) */
  barrier?: ProcessBarrier;
  /** SIGKILL the service after this long (default SERVICE_KILL_MS, below TEST_TIMEOUT) */
  killAfterMs?: number;
}

/**
 * Runs a compiled scenario script in its own Node process and resolves when
 * it exits, with its exit code and the final JSON line it printed. Never
 * rejects: a crash shows up as a non-zero code with stderr attached.
 */
export function runService<R = unknown>(
  scriptPath: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  opts: RunServiceOptions = {},
): Promise<ServiceResult<R>> {
  const proc = spawn(process.execPath, ['--enable-source-maps', scriptPath, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    // an IPC channel so services can meet at barriers set up by the test
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  track(proc);
  const output = new OutputCollector(proc.stdout, proc.stderr);
  opts.barrier?.attach(proc);
  const killer = setTimeout(() => {
    proc.stderr?.emit('data', `\n[harness] killed after ${opts.killAfterMs ?? SERVICE_KILL_MS} ms\n`);
    proc.kill('SIGKILL');
  }, opts.killAfterMs ?? SERVICE_KILL_MS);
  return new Promise((resolve) => {
    // 'close' (not 'exit') so every byte of stdout has been read
    proc.once('close', (code, signal) => {
      clearTimeout(killer);
      resolve({
        code,
        signal,
        result: lastJsonLine(output.stdout) as R | undefined,
        stdout: output.stdout,
        stderr: output.stderr,
      });
    });
  });
}

function lastJsonLine(text: string): unknown {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (!line.startsWith('{') && !line.startsWith('[')) continue;
    try {
      return JSON.parse(line);
    } catch {
      // not JSON after all: keep looking upwards
    }
  }
  return undefined;
}

/** Formats a service result for an assertion message. */
export function describeService(name: string, r: ServiceResult): string {
  return `${name}: exit code ${r.code} signal ${r.signal}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
}

export interface LockServerProcess {
  port: number;
  proc: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts the cross-process lock service (test/src/lock-server-main.ts) as its own child process. */
export async function startLockServerProcess(): Promise<LockServerProcess> {
  const main = join(repoRoot, 'test', 'dist', 'src', 'lock-server-main.js');
  const proc = spawn(process.execPath, ['--enable-source-maps', main], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  const output = new OutputCollector(proc.stdout, proc.stderr);
  const exited = closed(proc).then(({ code }) => {
    throw new Error(`lock server exited before listening (code ${code})\n${output.tail()}`);
  });
  let m: RegExpMatchArray;
  try {
    m = await within(STARTUP_LIMIT_MS, 'the lock server to listen', Promise.race([output.waitForLine(/lock-server listening on 127\.0\.0\.1:(\d+)/), exited]));
  } catch (e) {
    proc.kill('SIGKILL');
    await waitForExit(proc);
    throw e;
  }
  exited.catch(() => {});
  return { port: Number(m[1]), proc, logs: () => output.tail(), stop: () => terminate(proc, 'SIGTERM') };
}

/** For `after` hooks: stop what a test file started, then kill anything left. */
export async function cleanup(...stoppers: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  await Promise.allSettled(stoppers.map((s) => s?.stop()));
  await killAllChildren();
}

export interface LiveService {
  proc: ChildProcess;
  /** resolves with the first stdout line matching `re` (a HangError after `ms`) */
  waitForLine(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** stdout + stderr so far, for failure messages */
  output(): string;
  /** SIGKILL (a crash: no cleanup of any kind runs) and wait for the exit */
  kill9(): Promise<void>;
}

/**
 * Starts a compiled scenario script that the test controls while it runs (waits for the lines it
 * prints, kills it mid-flight), unlike runService() which waits for the exit.
 */
export function spawnService(scriptPath: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): LiveService {
  const proc = spawn(process.execPath, ['--enable-source-maps', scriptPath, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  const output = new OutputCollector(proc.stdout, proc.stderr);
  const describe = () => `--- stdout ---\n${output.stdout.slice(-3000)}\n--- stderr ---\n${output.stderr.slice(-3000)}`;
  return {
    proc,
    waitForLine: (re, ms = STARTUP_LIMIT_MS) => within(ms, `a line matching ${re} from ${scriptPath}`, output.waitForLine(re), describe),
    output: describe,
    kill9: () => terminate(proc, 'SIGKILL'),
  };
}
