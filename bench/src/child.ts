// Runs one measurement in its own node process (child-main.ts): the engine
// measurements need --expose-gc (memory, and a collection between timed
// rounds) and a bigger heap for a million holds, and they must not share an
// event loop or a heap with the daemon or the WebSocket clients.
import { spawn } from 'node:child_process';
import { CHILD_MAIN } from './paths.js';

export const RESULT_MARK = '@@bench-result ';

export function runInChild<T>(name: string, nodeFlags: string[] = []): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '--enable-source-maps', CHILD_MAIN, name], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    // forward the child's progress/errors, keeping the tail for the error row
    let errTail = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      process.stderr.write(d);
      errTail = (errTail + d).slice(-4000);
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code !== 0 || !line) {
        const why = errTail.split('\n').find((l) => /^\w*(Error|Exception)\b/.test(l)) ?? 'see stderr';
        reject(new Error(`bench child '${name}' failed (exit ${code ?? signal}): ${why}\n${errTail}`));
        return;
      }
      resolvePromise(JSON.parse(line.slice(RESULT_MARK.length)) as T);
    });
  });
}

/** Progress goes to stderr so stdout stays the table. */
export function progress(msg: string): void {
  process.stderr.write(`  [bench] ${msg}\n`);
}
