// The README's first screen must be real: it is examples/src/quickstart.ts
// verbatim, and both examples run against a real daemon.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, describeService, repoRoot, runService, startDaemon, type Daemon } from '../src/harness.js';
import { TEST_TIMEOUT } from '../src/timing.js';

let daemon: Daemon | undefined;
before(async () => {
  daemon = await startDaemon();
});
after(() => cleanup(daemon));

const example = (name: string) => join(repoRoot, 'examples', 'dist', 'src', `${name}.js`);

test('README shows examples/src/quickstart.ts verbatim as its first code block after the commands', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const source = readFileSync(join(repoRoot, 'examples', 'src', 'quickstart.ts'), 'utf8');
  // the file adds one closing log line after dd.close()
  assert.equal(blocks[0], source.slice(0, source.indexOf('await dd.close();') + 'await dd.close();\n'.length));
});

test('the quickstart runs against a real daemon', TEST_TIMEOUT, async () => {
  const r = await runService(example('quickstart'), [], { DEADLOCKD_URL: daemon!.url });
  assert.equal(r.code, 0, describeService('quickstart', r));
  assert.match(r.stdout, /quickstart done/);
});

test('the transfer example catches its deadlock, retries, and conserves money', TEST_TIMEOUT, async () => {
  const r = await runService(example('transfer-deadlock'), [], { DEADLOCKD_URL: daemon!.url });
  assert.equal(r.code, 0, describeService('transfer-deadlock', r));
  assert.match(r.stdout, /deadlock detected \(DL-/);
  assert.match(r.stdout, /victim: task 'transfer /);
  assert.match(r.stdout, /balances: a=120 b=80 \(total 200\); attempts: (1, 2|2, 1)/);
});
