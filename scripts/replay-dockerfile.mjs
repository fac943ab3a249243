#!/usr/bin/env node
// Replays the sidecar image's build and start on this machine, which has no Docker engine.
//
// It parses the Dockerfile, copies the git-tracked files of the repo (`git ls-files`, as they are in
// the working tree) into a temp dir (the build context), and runs every stage in its own temp root:
// COPY from the context or, with --from, from an earlier stage's root; RUN with /bin/sh in the
// stage's WORKDIR with the stage's ENV. Then, in the final stage's root, it starts the CMD with the
// image's ENV (DEADLOCKD_PORT moved to a free port), waits for /healthz, runs the HEALTHCHECK
// command (must exit 0), checks that the dashboard (`/`) and every asset it links answer 200, sends
// SIGTERM and expects exit code 0.
//
// What it cannot replay, it says: the host's node/npm/sh stand in for the base image (FROM must be
// node:<major>… with the host's major), absolute container paths map into the stage root only in
// WORKDIR/COPY (not inside RUN commands), and USER/--chown are reported, not switched. An
// instruction or flag it does not implement fails the replay loudly.
//
// usage: node scripts/replay-dockerfile.mjs [--dockerfile Dockerfile] [--keep] [--no-seed-cache]
//          [--untracked]   also put untracked, not ignored files into the context (try before `git add`)
//          [--build-only]  build the stages, skip starting the image (with --keep: inspect the roots)
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync,
  copyFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SUPPORTED = ['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'EXPOSE', 'HEALTHCHECK', 'CMD'];
const HEALTH_WAIT_MS = 60_000;
const STOP_WAIT_MS = 15_000;

class ReplayError extends Error {}
const fail = (msg) => {
  throw new ReplayError(msg);
};
const say = (line) => console.log(`[replay] ${line}`);

// ---- options -------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { dockerfile: join(repoRoot, 'Dockerfile'), keep: false, seedCache: true, untracked: false, buildOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dockerfile') opts.dockerfile = resolve(argv[++i] ?? fail('--dockerfile needs a path'));
    else if (a === '--keep') opts.keep = true;
    else if (a === '--no-seed-cache') opts.seedCache = false;
    else if (a === '--untracked') opts.untracked = true;
    else if (a === '--build-only') opts.buildOnly = true;
    else fail(`unknown option ${a}`);
  }
  return opts;
}

// ---- Dockerfile parsing --------------------------------------------------------------------

/** Logical lines: comments and blank lines dropped, `\` continuations joined. */
export function logicalLines(text) {
  const out = [];
  let buf = '';
  let start = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    // comment lines are dropped even inside a continuation, as Docker does
    if (trimmed.startsWith('#') || (trimmed === '' && buf === '')) return;
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, '') + ' ';
      return;
    }
    buf += raw;
    if (buf.trim() !== '') out.push({ line: start, text: buf.trim() });
    buf = '';
  });
  if (buf.trim() !== '') out.push({ line: start, text: buf.trim() });
  return out;
}

/** `["a", "b"]` → ['a', 'b']; anything else → undefined (shell form). */
function execForm(rest) {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    /* not JSON: Docker treats it as shell form too */
  }
  return undefined;
}

/** Leading `--flag=value` options of COPY/HEALTHCHECK. */
function takeFlags(rest) {
  const flags = {};
  let s = rest;
  for (let m; (m = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(s)); ) {
    flags[m[1]] = m[2] ?? 'true';
    s = s.slice(m[0].length);
  }
  return { flags, rest: s };
}

/** Splits on whitespace, honouring "double", 'single' quotes and backslash escapes. */
function words(s) {
  const out = [];
  let cur = '';
  let quote = '';
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      any = true;
    } else if (/\s/.test(c)) {
      if (any || cur) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (quote) fail(`unterminated quote in: ${s}`);
  if (any || cur) out.push(cur);
  return out;
}

/** $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt} from the stage's ENV, as Docker does in these instructions. */
function expand(s, env) {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a, op, word, b) => {
    const v = env[a ?? b];
    if (op === '-') return v ? v : word;
    if (op === '+') return v ? word : '';
    return v ?? '';
  });
}

function parseDuration(s, what) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (!m) fail(`${what}: cannot read duration '${s}'`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]];
}

/** Stages with their instructions; fails on anything this replay does not implement. */
export function parseDockerfile(text) {
  const stages = [];
  for (const { line, text: t } of logicalLines(text)) {
    const m = /^(\S+)\s*(.*)$/s.exec(t);
    const op = m[1].toUpperCase();
    const rest = m[2].trim();
    const where = `Dockerfile line ${line}`;
    if (!SUPPORTED.includes(op)) fail(`${where}: unsupported instruction ${op} (the replay implements ${SUPPORTED.join(', ')}); extend scripts/replay-dockerfile.mjs`);
    if (op === 'FROM') {
      const w = words(rest);
      if (w[0]?.startsWith('--')) fail(`${where}: FROM flags (${w[0]}) are not supported`);
      if (!(w.length === 1 || (w.length === 3 && w[1].toUpperCase() === 'AS'))) fail(`${where}: cannot read FROM ${rest}`);
      stages.push({ index: stages.length, image: w[0], name: w[2], line, steps: [] });
      continue;
    }
    const stage = stages.at(-1) ?? fail(`${where}: ${op} before any FROM`);
    const step = { op, line, where, raw: t };
    if (op === 'COPY') {
      const { flags, rest: r } = takeFlags(rest);
      for (const f of Object.keys(flags)) if (f !== 'from' && f !== 'chown') fail(`${where}: COPY --${f} is not supported`);
      const parts = execForm(r) ?? words(r);
      if (parts.length < 2) fail(`${where}: COPY needs a source and a destination`);
      Object.assign(step, { from: flags.from, chown: flags.chown, sources: parts.slice(0, -1), dest: parts.at(-1) });
    } else if (op === 'RUN') {
      if (rest.startsWith('--')) fail(`${where}: RUN flags are not supported`);
      step.argv = execForm(rest);
      step.shell = step.argv ? undefined : rest;
    } else if (op === 'CMD') {
      step.argv = execForm(rest);
      step.shell = step.argv ? undefined : rest;
    } else if (op === 'ENV') {
      const w = words(rest);
      step.pairs = w[0]?.includes('=')
        ? w.map((kv) => (kv.includes('=') ? [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] : fail(`${where}: ENV ${kv} has no '='`)))
        : [[w[0], rest.slice(rest.indexOf(w[0]) + w[0].length).trim()]]; // legacy `ENV KEY value with spaces`
    } else if (op === 'HEALTHCHECK') {
      const { flags, rest: r } = takeFlags(rest);
      for (const f of Object.keys(flags)) {
        if (!['interval', 'timeout', 'start-period', 'start-interval', 'retries'].includes(f)) fail(`${where}: HEALTHCHECK --${f} is not supported`);
      }
      if (/^NONE$/i.test(r)) step.none = true;
      else {
        const c = /^CMD\s+(.*)$/is.exec(r) ?? fail(`${where}: HEALTHCHECK needs CMD or NONE`);
        step.argv = execForm(c[1]);
        step.shell = step.argv ? undefined : c[1];
        step.timeoutMs = flags.timeout ? parseDuration(flags.timeout, where) : 30_000;
        step.flags = flags;
      }
    } else {
      step.value = rest; // WORKDIR, USER, EXPOSE
    }
    stage.steps.push(step);
  }
  if (stages.length === 0) fail('the Dockerfile has no FROM');
  return stages;
}

// ---- the build context -----------------------------------------------------------------------

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error}`);
  return r.stdout;
}

/** Copies one path as-is: symlinks stay symlinks, file modes are kept. */
function copyEntry(src, dst) {
  const st = lstatSync(src);
  mkdirSync(dirname(dst), { recursive: true });
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
  else if (st.isDirectory()) cpSync(src, dst, { recursive: true, verbatimSymlinks: true, force: true });
  else copyFileSync(src, dst);
}

/** A glob of .dockerignore → RegExp over context-relative paths (`*`, `?`, `**`). */
function ignoreRegex(pattern) {
  const p = posix.normalize(pattern.replace(/^\/+/, ''));
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*' && p[i + 1] === '*') {
      re += '.*';
      i++;
      if (p[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // a match on a directory excludes everything under it
  return new RegExp(`^${re}(/.*)?$`);
}

function buildContext(dir, untracked) {
  const lsArgs = untracked ? ['ls-files', '-z', '--cached', '--others', '--exclude-standard'] : ['ls-files', '-z'];
  const files = [...new Set(run('git', lsArgs, repoRoot).split('\0').filter(Boolean))];
  let rules = [];
  if (files.includes('.dockerignore')) {
    rules = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => (l.startsWith('!') ? { keep: true, re: ignoreRegex(l.slice(1)) } : { keep: false, re: ignoreRegex(l) }));
  }
  let copied = 0;
  let missing = 0;
  let ignored = 0;
  for (const f of files) {
    // the last matching rule wins, as in Docker
    let excluded = false;
    for (const r of rules) if (r.re.test(f)) excluded = !r.keep;
    if (excluded) {
      ignored++;
      continue;
    }
    const src = join(repoRoot, f);
    if (!existsSync(src) && !isLink(src)) {
      missing++; // deleted in the working tree, not yet committed
      continue;
    }
    copyEntry(src, join(dir, f));
    copied++;
  }
  say(`build context: ${copied} ${untracked ? 'git-tracked and untracked' : 'git-tracked'} files copied to ${dir}` +
    `${missing ? `, ${missing} deleted in the working tree skipped` : ''}${rules.length ? `, ${ignored} excluded by .dockerignore` : ''}` +
    (untracked ? ' (--untracked: CI sees only tracked files)' : ' (untracked files are not part of it: `git add` what the image needs)'));
}

function isLink(p) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

// ---- stages ----------------------------------------------------------------------------------

const children = new Set();

/** Runs a command, streaming its output with a prefix; the promise carries the child as `.child`. */
function exec(argv, { cwd, env, timeoutMs, prefix = '  | ' }) {
  // its own process group, so a kill reaches npm's children too
  const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  const result = new Promise((resolveRun) => {
    const pipe = (stream, out) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (d) => {
        const lines = (rest + d).split('\n');
        rest = lines.pop();
        for (const l of lines) out.write(`${prefix}${l}\n`);
      });
      stream.on('end', () => rest && out.write(`${prefix}${rest}\n`));
    };
    pipe(child.stdout, process.stdout);
    pipe(child.stderr, process.stderr);
    let timedOut = false;
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          killGroup(child, 'SIGKILL');
        }, timeoutMs)
      : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      resolveRun({ code: null, signal: null, error: err, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolveRun({ code, signal, timedOut });
    });
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

/**
 * The environment a RUN/CMD sees: the host's PATH (its node/npm/sh stand in for the image's), a HOME
 * inside the stage root (/root, or /home/<user> once USER is set: none of the host's dotfiles), the
 * stage's ENV. Nothing else of the calling process leaks in (npm_config_* of an `npm test` run, CI=…),
 * except proxy settings and the registry, which a real build would get as build args.
 */
function stageEnv(stage, ctx, extra = {}) {
  const home = inRoot(stage, stage.user && stage.user !== 'root' ? `/home/${stage.user}` : '/root');
  mkdirSync(home, { recursive: true });
  const env = { PATH: process.env.PATH, HOME: home };
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'npm_config_registry']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  Object.assign(env, stage.env, extra);
  // npm's cache is the replay's own (seeded from the host's): `npm cache clean` must not wipe the host's
  env.npm_config_cache = ctx.npmCache;
  return env;
}

/** Container path → path under the stage root. */
function inRoot(stage, p) {
  const abs = posix.isAbsolute(p) ? p : posix.join(stage.workdir, p);
  return join(stage.root, posix.normalize(abs));
}

function copyStep(step, stage, ctx) {
  let srcBase = ctx.context;
  let srcLabel = 'context';
  if (step.from !== undefined) {
    const from = ctx.stages.find((s) => s.index < stage.index && (s.name === step.from || String(s.index) === step.from));
    if (!from) fail(`${step.where}: COPY --from=${step.from} names no earlier stage (copying from an image is not supported)`);
    srcBase = from.root;
    srcLabel = `stage ${from.name ?? from.index}`;
  }
  const dest = expand(step.dest, stage.env);
  const destPath = inRoot(stage, dest);
  const sources = step.sources.map((s) => expand(s, stage.env));
  if (sources.length > 1 && !dest.endsWith('/')) fail(`${step.where}: with several sources the destination must end with /`);
  for (const s of sources) {
    if (/[*?[]/.test(s)) fail(`${step.where}: wildcards in COPY sources are not supported (${s})`);
    // context paths are relative to the context root even when written absolute; --from paths are container paths
    const src = step.from !== undefined ? join(srcBase, posix.normalize(posix.isAbsolute(s) ? s : posix.join('/', s))) : join(srcBase, posix.normalize(posix.join('/', s)));
    if (relative(srcBase, src).startsWith('..')) fail(`${step.where}: ${s} is outside the ${srcLabel}`);
    if (!existsSync(src)) fail(`${step.where}: COPY source ${s} not found in the ${srcLabel}` + (step.from === undefined ? ' (is it git-tracked?)' : ''));
    if (statSync(src).isDirectory()) {
      // a directory's contents go into the destination
      mkdirSync(destPath, { recursive: true });
      cpSync(src, destPath, { recursive: true, verbatimSymlinks: true, force: true });
    } else {
      const intoDir = dest.endsWith('/') || (existsSync(destPath) && statSync(destPath).isDirectory());
      const target = intoDir ? join(destPath, basename(src)) : destPath;
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(src, target);
    }
  }
}

async function runStage(stage, ctx) {
  const label = stage.name ? `'${stage.name}'` : String(stage.index);
  stage.root = mkdtempSync(join(ctx.tmp, `stage-${stage.index}-`));
  stage.env = {};
  stage.workdir = '/';
  stage.exposed = [];
  const base = ctx.stages.find((s) => s.index < stage.index && s.name === stage.image);
  if (base) {
    // FROM <earlier stage>: start from its filesystem and settings
    cpSync(base.root, stage.root, { recursive: true, verbatimSymlinks: true, force: true });
    Object.assign(stage, { env: { ...base.env }, workdir: base.workdir, user: base.user, cmd: base.cmd, healthcheck: base.healthcheck, exposed: [...base.exposed] });
    say(`stage ${label}: FROM stage '${base.name}' (its root copied)`);
  } else {
    const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)/.exec(stage.image);
    const hostMajor = process.versions.node.split('.')[0];
    if (!m) fail(`stage ${label}: base image ${stage.image}: the replay can only stand in for node:<major> images with the host's node`);
    if (m[1] !== hostMajor) fail(`stage ${label}: base image ${stage.image} is node ${m[1]}, this host runs node ${process.version}: the replay would not be faithful`);
    say(`stage ${label}: FROM ${stage.image} → the host's node ${process.version}, npm and /bin/sh; root ${stage.root}`);
  }
  for (const step of stage.steps) {
    const started = performance.now();
    switch (step.op) {
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, expand(step.value, stage.env));
        mkdirSync(inRoot(stage, '.'), { recursive: true });
        say(`  WORKDIR ${stage.workdir}`);
        break;
      case 'ENV': {
        // references see the values from before this instruction, as in Docker
        const before = { ...stage.env };
        for (const [k, v] of step.pairs) stage.env[k] = expand(v, before);
        say(`  ENV ${step.pairs.map(([k]) => `${k}=${stage.env[k]}`).join(' ')}`);
        break;
      }
      case 'COPY':
        copyStep(step, stage, ctx);
        say(`  ${step.raw}${step.chown ? ' (--chown reported, not applied)' : ''}`);
        break;
      case 'RUN': {
        say(`  ${step.raw}`);
        const argv = step.argv ?? ['/bin/sh', '-c', step.shell];
        const r = await exec(argv, { cwd: inRoot(stage, '.'), env: stageEnv(stage, ctx) });
        if (r.code !== 0) fail(`${step.where}: RUN failed (${r.error?.message ?? (r.signal ? `signal ${r.signal}` : `exit ${r.code}`)}): ${step.raw}`);
        say(`  RUN done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        break;
      }
      case 'USER':
        stage.user = expand(step.value, stage.env);
        say(`  USER ${stage.user}: reported, not switched (the replay runs as uid ${process.getuid?.()})`);
        break;
      case 'EXPOSE':
        stage.exposed.push(...words(expand(step.value, stage.env)).map((p) => p.replace(/\/tcp$/, '')));
        say(`  EXPOSE ${step.value}`);
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = step.none ? undefined : step;
        say(`  HEALTHCHECK recorded${step.none ? ' (NONE)' : ''}`);
        break;
      case 'CMD':
        stage.cmd = step;
        say(`  CMD recorded`);
        break;
    }
  }
}

// ---- starting the image ----------------------------------------------------------------------

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

/** Local URLs of the page's scripts, stylesheets and module imports. */
function linkedAssets(html) {
  const out = new Set();
  for (const m of html.matchAll(/\b(?:src|href)="(\/[^"]*)"/g)) out.add(m[1]);
  for (const m of html.matchAll(/"(\/[^"\s]+\.(?:js|mjs|css))"/g)) out.add(m[1]); // an import map's targets
  return [...out];
}

async function startAndCheck(stage, ctx) {
  if (!stage.cmd) fail('the final stage has no CMD');
  const imagePort = stage.env.DEADLOCKD_PORT;
  if (imagePort !== undefined && !stage.exposed.includes(imagePort)) {
    fail(`ENV DEADLOCKD_PORT=${imagePort} but EXPOSE lists ${stage.exposed.join(', ') || 'nothing'}`);
  }
  const port = await freePort();
  const env = stageEnv(stage, ctx, { DEADLOCKD_PORT: String(port) });
  const cwd = inRoot(stage, '.');
  const argv = stage.cmd.argv ?? ['/bin/sh', '-c', stage.cmd.shell];
  say(`start: ${stage.cmd.raw}`);
  say(`  in ${cwd} with the image's ENV (${Object.keys(stage.env).map((k) => `${k}=${stage.env[k]}`).join(' ')}), ` +
    `DEADLOCKD_PORT overridden to ${port}${stage.user ? `; would run as USER ${stage.user}, runs as uid ${process.getuid?.()}` : ''}`);
  const exited = exec(argv, { cwd, env, prefix: '  daemon| ' });
  let done;
  exited.then((r) => (done = r));
  const proc = exited.child;
  const base = `http://127.0.0.1:${port}`;
  try {
    // 1. liveness
    const deadline = Date.now() + HEALTH_WAIT_MS;
    let health;
    while (!health) {
      if (done) fail(`the CMD exited before /healthz answered (${done.signal ?? `exit ${done.code}`})`);
      if (Date.now() > deadline) fail(`/healthz did not answer 200 within ${HEALTH_WAIT_MS / 1000} s`);
      try {
        const r = await get(`${base}/healthz`);
        if (r.status === 200) health = r.body;
      } catch {
        /* not listening yet */
      }
      if (!health) await sleep(200);
    }
    say(`check: GET /healthz → 200 ${health}`);
    // 2. the image's own HEALTHCHECK
    const hc = stage.healthcheck;
    if (!hc) fail('the final stage has no HEALTHCHECK');
    const r = await exec(hc.argv ?? ['/bin/sh', '-c', hc.shell], { cwd, env, timeoutMs: hc.timeoutMs, prefix: '  healthcheck| ' });
    if (r.code !== 0) fail(`HEALTHCHECK command ${r.timedOut ? `timed out after ${hc.timeoutMs} ms` : `exited ${r.code ?? r.signal}`}: ${hc.raw}`);
    say('check: HEALTHCHECK command exits 0');
    // 3. the dashboard and what it links (catches a missing COPY of assets or a missing runtime dependency)
    const page = await get(`${base}/`);
    if (page.status !== 200) fail(`GET / (the dashboard) answered ${page.status}: ${page.body.slice(0, 200)}`);
    const assets = linkedAssets(page.body);
    for (let i = 0; i < assets.length; i++) {
      const a = assets[i];
      const res = await get(`${base}${a}`);
      if (res.status !== 200) fail(`GET ${a} (linked from the dashboard) answered ${res.status}`);
      // the dashboard's own modules import their siblings: follow relative imports too
      if (/\.m?js(\?|$)/.test(a) && a.startsWith('/dashboard/')) {
        for (const m of res.body.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
          const next = new URL(m[1], `${base}${a}`).pathname;
          if (!assets.includes(next)) assets.push(next);
        }
      }
    }
    say(`check: GET / → 200, and its ${assets.length} linked assets → 200 (${assets.join(', ')})`);
    // 4. a clean stop
    killGroup(proc, 'SIGTERM');
    const stopped = await Promise.race([exited, sleep(STOP_WAIT_MS).then(() => undefined)]);
    if (!stopped) fail(`no exit within ${STOP_WAIT_MS / 1000} s of SIGTERM`);
    if (stopped.code !== 0) fail(`SIGTERM: exited ${stopped.signal ? `by signal ${stopped.signal}` : `with code ${stopped.code}`}, expected 0`);
    say('check: SIGTERM → exit 0');
  } finally {
    if (!done) {
      killGroup(proc, 'SIGKILL');
      await exited;
    }
  }
}

// ---- main --------------------------------------------------------------------------------------

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
    buildContext(ctx.context, opts.untracked);
    // seed the replay's npm cache with a copy of the host's: saves downloads, npm checks integrity anyway
    const hostCache = join(process.env.npm_config_cache || join(homedir(), '.npm'), '_cacache');
    if (opts.seedCache && existsSync(hostCache)) {
      cpSync(hostCache, join(ctx.npmCache, '_cacache'), { recursive: true });
      say(`npm cache: a copy of ${hostCache} (the replay's own; RUN npm cache clean wipes only that)`);
    } else {
      mkdirSync(ctx.npmCache, { recursive: true });
      say('npm cache: empty (downloads everything)');
    }
    for (const stage of stages) await runStage(stage, ctx);
    if (opts.buildOnly) {
      say(`OK (--build-only): ${stages.length} stages built in ${((performance.now() - started) / 1000).toFixed(0)} s; the image was not started`);
      return 0;
    }
    await startAndCheck(stages.at(-1), ctx);
    say(`OK: ${stages.length} stages built and the image started, answered and stopped cleanly in ${((performance.now() - started) / 1000).toFixed(0)} s`);
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
