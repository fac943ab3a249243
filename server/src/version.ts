// The daemon's version: the `version` of @deadlockd/server's package.json (the same file from
// the repo, where this runs as server/dist/src/version.js, and from an installed package).
import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const DAEMON_VERSION: string = packageJson.version;
