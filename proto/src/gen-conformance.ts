// Writes proto/conformance/daemon.json and sdk.json (checked in; a test fails when they are stale).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conformanceSuites } from './conformance.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'conformance');
mkdirSync(dir, { recursive: true });
const suites = conformanceSuites();
for (const [name, suite] of Object.entries(suites)) {
  const out = join(dir, `${name}.json`);
  writeFileSync(out, JSON.stringify(suite, null, 2) + '\n');
  console.log(`wrote ${out}`);
}
