// The real daemon in a child process (`deadlockd --port 0`), as users run it.
import { spawn, type ChildProcess } from 'node:child_process';
import { DAEMON_CLI } from './paths.js';

export interface DaemonProcess {
  httpUrl: string;
  wsUrl: string;
  pid: number;
  stop(): Promise<void>;
}

const READY = /deadlockd listening on (http:\/\/\S+)/;

export function startDaemonProcess(extraArgs: string[] = [], startTimeoutMs = 15_000): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [DAEMON_CLI, '--port', '0', '--log-level', 'warn', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`daemon did not start in ${startTimeoutMs} ms; stderr:\n${stderr}`));
    }, startTimeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited early (code ${code}); stderr:\n${stderr}`));
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      out += d;
      const m = READY.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      const httpUrl = m[1] as string;
      resolve({
        httpUrl,
        wsUrl: `${httpUrl.replace(/^http/, 'ws')}/v1/stream`,
        pid: child.pid as number,
        stop: () => stop(child),
      });
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
