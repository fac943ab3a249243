#!/usr/bin/env node
// The `deadlockd` command. Plain JavaScript, never compiled: npm links a package's commands when it
// installs it, and skips one whose file is missing, so in a fresh checkout (`npm ci`, before `tsc -b`)
// a command pointing into dist/ would never be linked. This file always exists; the daemon itself
// is dist/src/cli.js.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('deadlockd: not compiled yet (server/dist/src/cli.js is missing): run `npm run build` in the repository first\n');
  process.exit(1);
}
// stack traces name the TypeScript sources' lines, as `node --enable-source-maps` does
process.setSourceMapsEnabled(true);
await import(cli.href);
