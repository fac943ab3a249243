#!/usr/bin/env node
// Replays the sidecar image's build and start on this machine, which has no Docker engine, to
// prove four things: the build steps run from a clean context, the image's CMD starts, it answers
// /healthz (and its own HEALTHCHECK command, and the dashboard with every asset it links), and
// SIGTERM stops it with exit code 0.
//
// How: dockerfile-ast parses the Dockerfile. The git-tracked files of the repo are copied into a
// temp dir, the build context. (.dockerignore lists only what git does not track, so the tracked
// files are the context.) Each stage gets its own temp root: COPY copies from the context, or with
// --from from an earlier stage's root, and RUN runs /bin/sh in the stage's WORKDIR with its ENV.
// The final stage's CMD then starts with the image's ENV, with DEADLOCKD_PORT moved to a free port.
//
// What it cannot replay, it says. The host's node, npm and sh stand in for the base image, so FROM
// must be node:<major> with the host's major version. Container paths map into the stage root in
// WORKDIR and COPY, not inside RUN commands. USER and --chown are reported, not switched. An
// instruction, flag or variable it does not implement fails the replay loudly, before anything
// runs.
//
// usage: node scripts/replay-dockerfile.mjs [--dockerfile Dockerfile] [--keep] [--build-only] [--no-seed-cache]
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerfileParser } from 'dockerfile-ast';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SUPPORTED = ['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'EXPOSE', 'HEALTHCHECK', 'CMD'];
const HEALTH_WAIT_MS = 60_000;
const STOP_WAIT_MS = 15_000;

class ReplayError extends Error {}
const fail = (msg) => {
  throw new ReplayError(msg);
};
const say = (line) => console.log(`[replay] ${line}`);
const seconds = (startedAt) => ((performance.now() - startedAt) / 1000).toFixed(1);

// ---- the Dockerfile ----------------------------------------------------------------------------

/** `argv` for exec form (`["a", "b"]`), or `shell` for shell form. */
function command(instruction, text) {
  const json = instruction.getJSONStrings?.() ?? [];
  if (json.length > 0) return { argv: json.map((a) => a.getJSONValue()) };
  if (text.startsWith('[')) {
    try {
      const v = JSON.parse(text);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return { argv: v };
    } catch {
      /* not JSON: Docker runs it as shell form too */
    }
  }
  return { shell: text };
}

/** Stages with their steps; fails on anything this replay does not implement. */
export function parseDockerfile(text) {
  const stages = [];
  for (const ins of DockerfileParser.parse(text).getInstructions()) {
    const op = ins.getKeyword();
    const line = ins.getRange().start.line + 1;
    const where = `Dockerfile line ${line}`;
    if (!SUPPORTED.includes(op)) fail(`${where}: unsupported instruction ${op} (the replay implements ${SUPPORTED.join(', ')}); extend scripts/replay-dockerfile.mjs`);
    const content = ins.getArgumentsContent() ?? '';
    const flags = Object.fromEntries((ins.getFlags?.() ?? []).map((f) => [f.getName(), f.getValue()]));
    const allow = { COPY: ['from', 'chown'], HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'] }[op] ?? [];
    for (const f of Object.keys(flags)) if (!allow.includes(f)) fail(`${where}: ${op} --${f} is not supported`);
    if (op !== 'RUN' && op !== 'CMD' && op !== 'HEALTHCHECK' && content.includes('$')) fail(`${where}: variables in ${op} are not supported`);
    if (op === 'FROM') {
      const image = ins.getImage();
      if (stages.some((s) => s.name === image)) fail(`${where}: FROM an earlier stage is not supported`);
      stages.push({ index: stages.length, image, name: ins.getBuildStage() ?? undefined, steps: [] });
      continue;
    }
    const stage = stages.at(-1) ?? fail(`${where}: ${op} before any FROM`);
    const step = { op, where, raw: `${op} ${content}` };
    if (op === 'COPY') {
      const parts = ins.getArguments().map((a) => a.getValue());
      if (parts.length < 2) fail(`${where}: COPY needs a source and a destination`);
      Object.assign(step, { from: flags.from, chown: flags.chown, sources: parts.slice(0, -1), dest: parts.at(-1) });
    } else if (op === 'RUN' || op === 'CMD') {
      Object.assign(step, command(ins, content));
    } else if (op === 'ENV') {
      step.pairs = ins.getProperties().map((p) => [p.getName(), p.getUnescapedValue() ?? '']);
    } else if (op === 'HEALTHCHECK') {
      const sub = ins.getSubcommand()?.getValue().toUpperCase();
      if (sub === 'NONE') step.none = true;
      else if (sub !== 'CMD') fail(`${where}: HEALTHCHECK needs CMD or NONE`);
      else {
        const cmdText = content.slice(content.search(/\bCMD\b/i) + 3).trim();
        Object.assign(step, command(ins, cmdText), { timeoutMs: durationMs(flags.timeout ?? '30s', where) });
      }
    } else {
      step.value = content; // WORKDIR, USER, EXPOSE
    }
    stage.steps.push(step);
  }
  if (stages.length === 0) fail('the Dockerfile has no FROM');
  return stages;
}

function durationMs(s, where) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s) ?? fail(`${where}: cannot read duration '${s}'`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]];
}

// ---- the build context ---------------------------------------------------------------------------

/** Copies the git-tracked files as they are in the working tree: symlinks stay symlinks. */
function buildContext(dir) {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`git ls-files failed: ${r.stderr || r.error}`);
  let copied = 0;
  for (const f of r.stdout.split('\0').filter(Boolean)) {
    const src = join(repoRoot, f);
    let st;
    try {
      st = lstatSync(src);
    } catch {
      continue; // deleted in the working tree, not yet committed
    }
    const dst = join(dir, f);
    mkdirSync(dirname(dst), { recursive: true });
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else copyFileSync(src, dst);
    copied++;
  }
  say(`build context: ${copied} git-tracked files copied to ${dir} (untracked files are not part of it: \`git add\` what the image needs)`);
}

// ---- processes -------------------------------------------------------------------------------------

const children = new Set();

/** Runs argv in its own process group (a kill reaches npm's children too), output prefixed. */
function exec(argv, { cwd, env, timeoutMs, prefix = '  | ' }) {
  const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop();
      for (const l of lines) out.write(`${prefix}${l}\n`);
    });
    stream.on('end', () => rest && out.write(`${prefix}${rest}\n`));
  }
  let timedOut = false;
  const timer = timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        killGroup(child, 'SIGKILL');
      }, timeoutMs)
    : undefined;
  const result = new Promise((resolveRun) => {
    const settle = (r) => {
      clearTimeout(timer);
      children.delete(child);
      resolveRun({ ...r, timedOut });
    };
    child.on('error', (error) => settle({ code: null, signal: null, error }));
    child.on('close', (code, signal) => settle({ code, signal }));
  });
  return Object.assign(result, { child });
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

let nodedir;
/** `{npm_config_nodedir}` when the host's npm config names one (read once). */
function hostNodedir() {
  if (nodedir === undefined) {
    const r = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' });
    const dir = r.status === 0 ? r.stdout.trim() : '';
    nodedir = dir && dir !== 'null' && dir !== 'undefined' ? { npm_config_nodedir: dir } : {};
  }
  return nodedir;
}

/** Container path → path under the stage root. */
function inRoot(stage, p) {
  return join(stage.root, posix.normalize(posix.isAbsolute(p) ? p : posix.join(stage.workdir, p)));
}

/**
 * What a RUN or CMD sees: the host's PATH (its node, npm and sh stand in for the image's), a HOME inside
 * the stage root, the replay's own npm cache, proxy settings and the registry (a real build gets them as
 * build args), and the stage's ENV. Nothing else of the calling process (npm_config_* of `npm test`, CI=…).
 * Also the host's node headers (npm's `nodedir`, set in the host's user npmrc, which the stage's HOME
 * hides): the host's node stands in for the image's, so a native module that cannot download a prebuilt
 * binary here (better-sqlite3) compiles against the host node's headers, as it does in `npm ci` on the host.
 */
function stageEnv(stage, ctx, extra = {}) {
  const home = inRoot(stage, stage.user && stage.user !== 'root' ? `/home/${stage.user}` : '/root');
  mkdirSync(home, { recursive: true });
  const env = { PATH: process.env.PATH, HOME: home, ...hostNodedir() };
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'npm_config_registry']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  return { ...env, ...stage.env, ...extra, npm_config_cache: ctx.npmCache };
}

// ---- stages ------------------------------------------------------------------------------------------

function copyStep(step, stage, ctx) {
  let base = ctx.context;
  let label = 'context';
  if (step.from !== undefined) {
    const from = ctx.stages.find((s) => s.index < stage.index && (s.name === step.from || String(s.index) === step.from));
    if (!from) fail(`${step.where}: COPY --from=${step.from} names no earlier stage (copying from an image is not supported)`);
    base = from.root;
    label = `stage ${from.name ?? from.index}`;
  }
  const dest = inRoot(stage, step.dest);
  if (step.sources.length > 1 && !step.dest.endsWith('/')) fail(`${step.where}: with several sources the destination must end with /`);
  for (const s of step.sources) {
    if (/[*?[]/.test(s)) fail(`${step.where}: wildcards in COPY sources are not supported (${s})`);
    // context paths are relative to the context root even when written absolute; --from paths are the stage's
    const src = join(base, posix.normalize(posix.join('/', s)));
    if (relative(base, src).startsWith('..')) fail(`${step.where}: ${s} is outside the ${label}`);
    if (!existsSync(src)) fail(`${step.where}: COPY source ${s} not found in the ${label}${step.from === undefined ? ' (is it git-tracked?)' : ''}`);
    if (statSync(src).isDirectory()) {
      mkdirSync(dest, { recursive: true }); // a directory's contents go into the destination
      cpSync(src, dest, { recursive: true, verbatimSymlinks: true, force: true });
    } else {
      const intoDir = step.dest.endsWith('/') || (existsSync(dest) && statSync(dest).isDirectory());
      const target = intoDir ? join(dest, basename(src)) : dest;
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(src, target);
    }
  }
}

async function runStage(stage, ctx) {
  const label = stage.name ? `'${stage.name}'` : String(stage.index);
  Object.assign(stage, { root: mkdtempSync(join(ctx.tmp, `stage-${stage.index}-`)), env: {}, workdir: '/', exposed: [] });
  const major = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)/.exec(stage.image)?.[1];
  if (!major) fail(`stage ${label}: base image ${stage.image}: the replay can only stand in for node:<major> images with the host's node`);
  if (major !== process.versions.node.split('.')[0]) fail(`stage ${label}: base image ${stage.image} is node ${major}, this host runs node ${process.version}: the replay would not be faithful`);
  say(`stage ${label}: FROM ${stage.image} → the host's node ${process.version}, npm and /bin/sh; root ${stage.root}`);
  for (const step of stage.steps) {
    const started = performance.now();
    switch (step.op) {
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, step.value);
        mkdirSync(inRoot(stage, '.'), { recursive: true });
        say(`  WORKDIR ${stage.workdir}`);
        break;
      case 'ENV':
        for (const [k, v] of step.pairs) stage.env[k] = v;
        say(`  ${step.raw}`);
        break;
      case 'COPY':
        copyStep(step, stage, ctx);
        say(`  ${step.raw}${step.chown ? ' (--chown reported, not applied)' : ''}`);
        break;
      case 'RUN': {
        say(`  ${step.raw}`);
        const r = await exec(step.argv ?? ['/bin/sh', '-c', step.shell], { cwd: inRoot(stage, '.'), env: stageEnv(stage, ctx) });
        if (r.code !== 0) fail(`${step.where}: RUN failed (${r.error?.message ?? (r.signal ? `signal ${r.signal}` : `exit ${r.code}`)}): ${step.raw}`);
        say(`  RUN done in ${seconds(started)} s`);
        break;
      }
      case 'USER':
        stage.user = step.value;
        say(`  USER ${stage.user}: reported, not switched (the replay runs as uid ${process.getuid?.()})`);
        break;
      case 'EXPOSE':
        stage.exposed.push(...step.value.split(/\s+/).map((p) => p.replace(/\/tcp$/, '')));
        say(`  EXPOSE ${step.value}`);
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = step.none ? undefined : step;
        say(`  HEALTHCHECK recorded${step.none ? ' (NONE)' : ''}`);
        break;
      case 'CMD':
        stage.cmd = step;
        say('  CMD recorded');
        break;
    }
  }
}

// ---- starting the image -------------------------------------------------------------------------------

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function get(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** Local URLs of the page's scripts, stylesheets and import-map targets. */
function linkedAssets(html) {
  const out = new Set();
  for (const m of html.matchAll(/\b(?:src|href)="(\/[^"]*)"/g)) out.add(m[1]);
  for (const m of html.matchAll(/"(\/[^"\s]+\.(?:js|mjs|css))"/g)) out.add(m[1]);
  return [...out];
}

/** The dashboard and everything it links answer 200 (catches a missing COPY or runtime dependency). */
async function checkDashboard(base) {
  const page = await get(`${base}/`);
  if (page.status !== 200) fail(`GET / (the dashboard) answered ${page.status}: ${page.body.slice(0, 200)}`);
  const assets = linkedAssets(page.body);
  for (let i = 0; i < assets.length; i++) {
    const res = await get(`${base}${assets[i]}`);
    if (res.status !== 200) fail(`GET ${assets[i]} (linked from the dashboard) answered ${res.status}`);
    // the dashboard's own modules import their siblings: follow relative imports too
    if (!/^\/dashboard\/.*\.m?js(\?|$)/.test(assets[i])) continue;
    for (const m of res.body.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const next = new URL(m[1], `${base}${assets[i]}`).pathname;
      if (!assets.includes(next)) assets.push(next);
    }
  }
  say(`check: GET / → 200, and its ${assets.length} linked assets → 200 (${assets.join(', ')})`);
}

async function startAndCheck(stage, ctx) {
  if (!stage.cmd) fail('the final stage has no CMD');
  if (!stage.healthcheck) fail('the final stage has no HEALTHCHECK');
  const imagePort = stage.env.DEADLOCKD_PORT;
  if (imagePort !== undefined && !stage.exposed.includes(imagePort)) fail(`ENV DEADLOCKD_PORT=${imagePort} but EXPOSE lists ${stage.exposed.join(', ') || 'nothing'}`);
  const port = await freePort();
  const env = stageEnv(stage, ctx, { DEADLOCKD_PORT: String(port) });
  const cwd = inRoot(stage, '.');
  say(`start: ${stage.cmd.raw}`);
  say(`  in ${cwd} with the image's ENV (${Object.entries(stage.env).map(([k, v]) => `${k}=${v}`).join(' ')}), DEADLOCKD_PORT overridden to ${port}` +
    (stage.user ? `; would run as USER ${stage.user}, runs as uid ${process.getuid?.()}` : ''));
  const exited = exec(stage.cmd.argv ?? ['/bin/sh', '-c', stage.cmd.shell], { cwd, env, prefix: '  daemon| ' });
  let done;
  exited.then((r) => (done = r));
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + HEALTH_WAIT_MS;
    let health;
    while (health === undefined) {
      if (done) fail(`the CMD exited before /healthz answered (${done.signal ?? `exit ${done.code}`})`);
      if (Date.now() > deadline) fail(`/healthz did not answer 200 within ${HEALTH_WAIT_MS / 1000} s`);
      const r = await get(`${base}/healthz`).catch(() => undefined); // not listening yet
      if (r?.status === 200) health = r.body;
      else await sleep(200);
    }
    say(`check: GET /healthz → 200 ${health}`);
    const hc = stage.healthcheck;
    const r = await exec(hc.argv ?? ['/bin/sh', '-c', hc.shell], { cwd, env, timeoutMs: hc.timeoutMs, prefix: '  healthcheck| ' });
    if (r.code !== 0) fail(`HEALTHCHECK command ${r.timedOut ? `timed out after ${hc.timeoutMs} ms` : `exited ${r.code ?? r.signal}`}: ${hc.raw}`);
    say('check: HEALTHCHECK command exits 0');
    await checkDashboard(base);
    killGroup(exited.child, 'SIGTERM');
    const stopped = await Promise.race([exited, sleep(STOP_WAIT_MS).then(() => undefined)]);
    if (!stopped) fail(`no exit within ${STOP_WAIT_MS / 1000} s of SIGTERM`);
    if (stopped.code !== 0) fail(`SIGTERM: exited ${stopped.signal ? `by signal ${stopped.signal}` : `with code ${stopped.code}`}, expected 0`);
    say('check: SIGTERM → exit 0');
  } finally {
    if (!done) {
      killGroup(exited.child, 'SIGKILL');
      await exited;
    }
  }
}

// ---- main -----------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { dockerfile: join(repoRoot, 'Dockerfile'), keep: false, buildOnly: false, seedCache: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dockerfile') opts.dockerfile = resolve(argv[++i] ?? fail('--dockerfile needs a path'));
    else if (a === '--keep') opts.keep = true;
    else if (a === '--build-only') opts.buildOnly = true;
    else if (a === '--no-seed-cache') opts.seedCache = false;
    else fail(`unknown option ${a}`);
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  say(`replaying ${relative(repoRoot, opts.dockerfile) || opts.dockerfile} without a Docker engine`);
  const stages = parseDockerfile(readFileSync(opts.dockerfile, 'utf8'));
  const tmp = mkdtempSync(join(tmpdir(), 'deadlockd-replay-'));
  const ctx = { tmp, context: join(tmp, 'context'), npmCache: join(tmp, 'npm-cache'), stages };
  const cleanup = () => {
    for (const c of children) killGroup(c, 'SIGKILL');
    if (!opts.keep) rmSync(tmp, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      console.error(`[replay] ${sig}: stopping`);
      cleanup();
      process.exit(130);
    });
  }
  try {
    for (let d = dirname(tmp); ; d = dirname(d)) {
      if (existsSync(join(d, 'node_modules'))) fail(`${join(d, 'node_modules')} exists above the replay's temp dir: modules could resolve from there`);
      if (dirname(d) === d) break;
    }
    buildContext(ctx.context);
    // the replay's npm cache starts as a copy of the host's: fewer downloads (npm checks integrity anyway),
    // and `RUN npm cache clean` wipes only the copy. Its tmp/ is skipped: another npm on this machine
    // may be creating and deleting files there while we copy.
    const hostCache = join(process.env.npm_config_cache || join(homedir(), '.npm'), '_cacache');
    if (opts.seedCache && existsSync(hostCache)) {
      const scratch = join(hostCache, 'tmp');
      cpSync(hostCache, join(ctx.npmCache, '_cacache'), { recursive: true, filter: (src) => src !== scratch && !src.startsWith(scratch + '/') });
    } else mkdirSync(ctx.npmCache, { recursive: true });
    for (const stage of stages) await runStage(stage, ctx);
    if (opts.buildOnly) {
      say(`OK (--build-only): ${stages.length} stages built in ${seconds(started)} s; the image was not started`);
      return 0;
    }
    await startAndCheck(stages.at(-1), ctx);
    say(`OK: ${stages.length} stages built and the image started, answered and stopped cleanly in ${seconds(started)} s`);
    return 0;
  } catch (err) {
    if (!(err instanceof ReplayError)) throw err;
    console.error(`[replay] FAILED: ${err.message}`);
    return 1;
  } finally {
    cleanup();
    if (opts.keep) say(`kept ${tmp}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`[replay] FAILED: ${err instanceof ReplayError ? err.message : (err?.stack ?? err)}`);
      process.exit(1);
    },
  );
}
