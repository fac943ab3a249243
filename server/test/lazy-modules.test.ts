// A daemon that watches no database and logs JSON loads neither pg nor pino-pretty: they cost
// start-up time and memory every daemon paid (7de8d99). The CommonJS modules an ES module imports
// go through require's cache, which is what this looks at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startTestDaemon } from './helpers.js';

const loaded = (pkg: string): boolean => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes(`/node_modules/${pkg}/`));

test('a daemon without --watch-postgres and --log-format pretty loads neither pg nor pino-pretty', async () => {
  const d = await startTestDaemon();
  try {
    assert.equal((await fetch(`${d.url}/healthz`)).status, 200);
    assert.equal(loaded('fastify'), true, 'the check sees the CommonJS packages the daemon loads');
    assert.equal(loaded('pg'), false, 'pg was loaded');
    assert.equal(loaded('pino-pretty'), false, 'pino-pretty was loaded');
  } finally {
    await d.close();
  }
});
