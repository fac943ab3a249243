// Where the `deadlockd` binary (a real child process) keeps its history file:
// ./data/history.sqlite in its working directory by default, under
// $XDG_STATE_HOME when that is set, and what happens when no file can be made
// there (the default place: a warning and an in-memory history; a place the
// operator named: exit 2 with the reason).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
/** generous: a cold start on a loaded 2-core machine */
const START_MS = 60_000;

const root = mkdtempSync(join(tmpdir(), 'deadlockd-place-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => mkdtempSync(join(root, `d${++dirs}-`));

interface Outcome {
  listening: boolean;
  code: number | null;
  output: string;
}

/** Starts the CLI in `cwd`; once it listens (or exits), stops it; returns what it printed. */
function runIn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DEADLOCKD_') && k !== 'XDG_STATE_HOME'));
  const child = spawn(process.execPath, [CLI, '--port', '0', ...args], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let listening = false;
  const onData = (d: Buffer) => {
    output += d.toString();
    if (!listening && /deadlockd listening on/.test(output)) {
      listening = true;
      child.kill('SIGTERM');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const limit = setTimeout(() => child.kill('SIGKILL'), START_MS);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(limit);
      resolve({ listening, code, output });
    }),
  );
}

describe('the history file: where it is made', () => {
  it('by default ./data/history.sqlite in the working directory', async () => {
    const cwd = newDir();
    const r = await runIn(cwd, []);
    assert.ok(r.listening, r.output);
    assert.ok(existsSync(join(cwd, 'data', 'history.sqlite')), 'the file was made');
  });

  it('under $XDG_STATE_HOME/deadlockd when it is set; --history-file wins over both', async () => {
    const cwd = newDir();
    const state = newDir();
    const r = await runIn(cwd, [], { XDG_STATE_HOME: state });
    assert.ok(r.listening, r.output);
    assert.ok(existsSync(join(state, 'deadlockd', 'history.sqlite')));
    assert.equal(existsSync(join(cwd, 'data')), false);

    const named = join(newDir(), 'nested', 'h.db');
    const n = await runIn(cwd, ['--history-file', named], { XDG_STATE_HOME: state });
    assert.ok(n.listening, n.output);
    assert.ok(existsSync(named), 'the named file (and its directory) was made');
  });

  it('the default place unusable: a warning, and the daemon runs with the history in memory', async () => {
    const cwd = newDir();
    writeFileSync(join(cwd, 'data'), 'a file where the data directory would go');
    const r = await runIn(cwd, []);
    assert.ok(r.listening, r.output);
    assert.match(r.output, /"code":"HISTORY_FILE_UNWRITABLE".*the history is kept in memory only/);
  });

  it('a place the operator named that is unusable: exit 2 with the reason, before listening', async () => {
    const cwd = newDir();
    const file = join(cwd, 'not-a-dir');
    writeFileSync(file, 'x');
    const r = await runIn(cwd, ['--data-dir', join(file, 'state')]);
    assert.equal(r.listening, false, r.output);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /deadlockd: cannot create or write --history-file \(DEADLOCKD_HISTORY_FILE\) ".*not-a-dir\/state\/history.sqlite"/);

    const garbage = join(cwd, 'garbage.sqlite');
    writeFileSync(garbage, 'not a database, but long enough to be read as one and refused as one');
    const g = await runIn(cwd, ['--history-file', garbage]);
    assert.equal(g.code, 2, g.output);
    assert.match(g.output, /deadlockd: cannot use --history-file/);
  });
});
