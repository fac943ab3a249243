// examples/docker-compose.yml cannot run here (no Docker engine), so check what can be checked: the
// daemon service builds from the repo's Dockerfile, publishes 7070, has auth on and a healthcheck on
// /healthz; the demo waits for it to be healthy, and reaches it with a token the daemon accepts. Then
// run the demo service with the compose file's own settings against a real daemon.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { cleanup, describeService, repoRoot, runService, startDaemon, type Daemon } from '../src/harness.js';
import { TEST_TIMEOUT } from '../src/timing.js';

const root = resolve(repoRoot); // repoRoot ends with a slash
const examplesDir = join(root, 'examples');
const composeFile = join(examplesDir, 'docker-compose.yml');

interface Service {
  build?: string | { context?: string; dockerfile?: string };
  ports?: Array<string | { target?: number; published?: string | number }>;
  environment?: Record<string, string | number | null> | string[];
  healthcheck?: { test?: string | string[] };
  depends_on?: string[] | Record<string, { condition?: string }>;
}
interface Compose {
  services?: Record<string, Service>;
}

const compose = parse(readFileSync(composeFile, 'utf8')) as Compose;
const services = compose.services ?? {};

/** `${VAR:-default}` / `${VAR-default}` as compose interpolates them with VAR unset. */
const interpolate = (s: string) => s.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}/g, '$1');

function env(svc: Service): Record<string, string> {
  const e = svc.environment ?? {};
  const pairs: Array<[string, string]> = Array.isArray(e)
    ? e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])
    : Object.entries(e).map(([k, v]) => [k, String(v ?? '')]);
  return Object.fromEntries(pairs.map(([k, v]) => [k, interpolate(v)]));
}

/** The Dockerfile a service builds from, as an absolute path (build paths are relative to the compose file). */
function dockerfileOf(svc: Service): { context: string; dockerfile: string } {
  const b = typeof svc.build === 'string' ? { context: svc.build } : (svc.build ?? {});
  assert.ok(b.context !== undefined, 'the service has a build context');
  const context = resolve(examplesDir, b.context);
  return { context, dockerfile: resolve(context, b.dockerfile ?? 'Dockerfile') };
}

/** The service built from the repo's own Dockerfile: the daemon. */
function daemonService(): [string, Service] {
  const found = Object.entries(services).find(([, s]) => s.build !== undefined && dockerfileOf(s).dockerfile === join(root, 'Dockerfile'));
  assert.ok(found, `a service in ${composeFile} builds from the repo's Dockerfile`);
  return found;
}

function demoService(): [string, Service] {
  const [daemonName] = daemonService();
  const found = Object.entries(services).find(([name]) => name !== daemonName);
  assert.ok(found, 'a demo service beside the daemon');
  return found;
}

/** token → namespace from DEADLOCKD_TOKENS (`t1=ns1,t2=ns2`). */
const tokensOf = (spec: string) => new Map(spec.split(',').filter(Boolean).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));

test('the daemon service builds from the repo Dockerfile, publishes 7070, listens beyond loopback with tokens, and has a /healthz healthcheck', () => {
  const [, daemon] = daemonService();
  assert.equal(dockerfileOf(daemon).context, root, 'its build context is the repo root');
  const ports = (daemon.ports ?? []).map((p) => (typeof p === 'string' ? Number(p.split(':').at(-1)!.split('/')[0]) : p.target));
  assert.ok(ports.includes(7070), `container port 7070 is published (ports: ${JSON.stringify(daemon.ports)})`);
  const e = env(daemon);
  assert.equal(e.DEADLOCKD_HOST, '0.0.0.0', 'reachable from the other containers');
  assert.equal(e.DEADLOCKD_PORT ?? '7070', '7070');
  assert.ok(tokensOf(e.DEADLOCKD_TOKENS ?? '').size > 0, 'DEADLOCKD_TOKENS turns auth on: it listens beyond loopback');
  const check = daemon.healthcheck?.test;
  const line = Array.isArray(check) ? check.join(' ') : (check ?? '');
  assert.match(line, /^(CMD|CMD-SHELL) /);
  assert.match(line, /127\.0\.0\.1:7070\/healthz/);
});

test('the demo service builds from examples/Dockerfile.demo, waits for a healthy daemon and connects with a token it accepts', () => {
  const [daemonName, daemon] = daemonService();
  const [, demo] = demoService();
  const { context, dockerfile } = dockerfileOf(demo);
  assert.equal(context, root);
  assert.equal(dockerfile, join(examplesDir, 'Dockerfile.demo'));
  assert.ok(existsSync(dockerfile));
  const deps = demo.depends_on;
  assert.ok(deps !== undefined && !Array.isArray(deps), 'depends_on in its long form (with a condition)');
  assert.equal(deps[daemonName]?.condition, 'service_healthy');
  const e = env(demo);
  assert.equal(e.DEADLOCKD_URL, `ws://${daemonName}:7070/v1/stream`);
  assert.ok(tokensOf(env(daemon).DEADLOCKD_TOKENS ?? '').has(e.DEADLOCKD_TOKEN ?? ''), 'the demo token is one the daemon knows');
});

test('examples/Dockerfile.demo uses only what the replay implements and runs the compiled demo service', async () => {
  const replay = (await import(pathToFileURL(join(repoRoot, 'scripts', 'replay-dockerfile.mjs')).href)) as {
    parseDockerfile(text: string): Array<{ steps: Array<{ op: string; argv?: string[] }> }>;
  };
  const stages = replay.parseDockerfile(readFileSync(join(examplesDir, 'Dockerfile.demo'), 'utf8'));
  const cmd = stages.at(-1)!.steps.find((s) => s.op === 'CMD');
  const script = cmd?.argv?.at(-1) ?? '';
  assert.equal(script, 'examples/dist/src/demo-service.js');
  assert.ok(existsSync(join(repoRoot, script)), `${script} is what tsc -b builds`);
});

let daemon: Daemon | undefined;
before(async () => {
  // the compose file's daemon settings, on loopback and a free port
  daemon = await startDaemon([], { ...env(daemonService()[1]), DEADLOCKD_HOST: '127.0.0.1' });
});
after(() => cleanup(daemon));

test('the demo service, with the compose settings, deadlocks every round, retries the victim and keeps the money', TEST_TIMEOUT, async () => {
  const e = env(demoService()[1]);
  const r = await runService(join(repoRoot, 'examples', 'dist', 'src', 'demo-service.js'), [], {
    ...e,
    DEADLOCKD_URL: daemon!.url,
    DEMO_ROUNDS: '3',
    DEMO_INTERVAL_MS: '50',
  });
  assert.equal(r.code, 0, describeService('demo-service', r));
  assert.match(r.stdout, /connected to .* as service '[^']+' with a token/);
  const rounds = r.stdout.match(/round \d+: transfers \S+ \(\d+\) and \S+ \(\d+\) deadlocked; deadlockd DL-\S+ aborted 'transfer \S+' \(.+\), retried, both done/g) ?? [];
  assert.equal(rounds.length, 3, describeService('demo-service', r));
  assert.match(r.stdout, /the report of round 1, as the daemon wrote it:\ndeadlock DL-\S+ detected at .* in namespace 'payments'/);
  assert.equal((r.stdout.match(/\(total 400\)/g) ?? []).length, 3);
  assert.match(r.stdout, /done\n$/);
});
