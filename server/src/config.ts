// Daemon configuration. Sources, weakest first: built-in defaults, then
// `DEADLOCKD_*` environment variables, then command-line flags. Every setting
// is declared once in SETTINGS (flag, env name, default, help, parser); the
// zod schema below checks the merged result, so programmatic callers
// (tests, the bench) go through the same validation as the CLI.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_ENGINE_LIMITS, type EngineLimits, type VictimCriterion } from './engine/types.js';

const VICTIM_CRITERIA = ['priority', 'work', 'youngest', 'closer'] as const satisfies readonly VictimCriterion[];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** json: one JSON object per line (pino), for log shippers; pretty: pino-pretty's readable lines, for a human at a terminal */
const LOG_FORMATS = ['json', 'pretty'] as const;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/** Namespace names appear in URLs, logs and metrics: keep them plain. */
const NamespaceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a namespace is 1-64 letters, digits, `.`, `_` or `-`');
const Token = z.string().min(1).max(4096).regex(/^\S+$/, 'a token has no spaces');
/** token → namespace; empty = auth off */
const TokenMap = z.record(Token, NamespaceName);
/** A postgres:// URL, or a libpq key=value connection string. */
const PostgresUrl = z.string().refine((s) => /^postgres(ql)?:\/\/\S+$/.test(s) || /^\s*\w+\s*=/.test(s), 'a postgres:// URL or a key=value connection string');
/**
 * The tokens file: each token names its namespace, and may name the PostgreSQL databases whose
 * lock waits join that namespace's graph: {"<token>": "<namespace>"} or
 * {"<token>": {"namespace": "<namespace>", "watchPostgres": ["postgres://…"]}}.
 */
const TokenFileMap = z.record(
  Token,
  z.union([NamespaceName, z.object({ namespace: NamespaceName, watchPostgres: z.array(PostgresUrl).max(64).default([]) }).strict()]),
);

export const ConfigSchema = z.object({
  port: int(0, 65535),
  host: z.string().min(1),
  logLevel: z.enum(LOG_LEVELS),
  logFormat: z.enum(LOG_FORMATS),
  maxFrameBytes: int(64, 512 * 1024 * 1024),
  maxEventsPerFrame: int(1),
  /** a snapshot sent in parts is held until its last part: this bounds what one client can make the daemon hold */
  maxSnapshotEvents: int(1),
  disconnectGraceMs: int(0),
  /** ping period for WebSocket peers; one that misses a pong is cut off (0 = off) */
  heartbeatMs: int(0, 2_147_483_647),
  confirmTimeoutMs: int(1),
  confirmRounds: int(1, 100),
  /** an abort not carried out by then is refused by the client and the deadlock re-decided without that owner */
  abortTimeoutMs: int(1),
  /** how long after an abort expires the daemon waits for the cancel in flight (bounds the one-way delay) */
  abortAnswerMarginMs: int(0),
  /** 0 turns the periodic sweep off */
  sweepIntervalMs: int(0),
  /** a search after a batch runs this long at most before it lets the event loop go on (0 = always to its end) */
  searchSliceMs: int(0, 60_000),
  historySize: int(1),
  maxOwnersPerClient: int(1),
  maxResourcesPerClient: int(1),
  maxWaitsPerClient: int(1),
  maxHoldsPerClient: int(1),
  maxGlobalResources: int(1),
  maxOwnersPerNamespace: int(1),
  maxResourcesPerNamespace: int(1),
  maxWaitsPerNamespace: int(1),
  maxHoldsPerNamespace: int(1),
  /** a deadlock report lists this many members (the rest counted), and this many holds and waits per member */
  maxReportMembers: int(1),
  maxReportHolds: int(1),
  maxReportEdges: int(1),
  /** bytes of reports one namespace's history keeps (besides historySize entries) */
  maxHistoryBytes: int(1024),
  /** bytes queued for one connection that does not read; more → SLOW_CONSUMER and cut off */
  maxQueuedBytes: int(64 * 1024),
  /** error frames one connection is sent per second; the rest are counted in one ERRORS_SUPPRESSED */
  maxErrorFramesPerSecond: int(1),
  /** a connection that sends no `hello` within this time is closed with HELLO_TIMEOUT */
  helloTimeoutMs: int(1, 2_147_483_647),
  /** a snapshot's last part must arrive within this time of its first part */
  snapshotTimeoutMs: int(1, 2_147_483_647),
  /** events of unfinished snapshots held across all connections together */
  maxSnapshotEventsInFlight: int(1),
  /** most nodes GET /v1/graph(.dot) returns (cap of its `limit`) and the dashboard draws */
  maxGraphNodes: int(1, 10_000_000),
  maxDrawnNodes: int(1, 1_000_000),
  /** a token that sees every namespace on /metrics (auth on); '' = none */
  metricsToken: z.string().max(4096).regex(/^\S*$/, 'a token has no spaces'),
  victimOrder: z
    .array(z.enum(VICTIM_CRITERIA))
    .min(1)
    .refine((l) => new Set(l).size === l.length, 'criteria must not repeat'),
  /** token → namespace. Non-empty turns auth on. After validation it also holds the tokens of `tokensFile`. */
  tokens: TokenMap,
  /** path of a JSON file {token: namespace}; '' = none */
  tokensFile: z.string(),
  /** the most deadlocks one GET /v1/deadlocks returns (its `limit` may not exceed it) */
  maxHistoryLimit: int(1, 1_000_000),
  // ---- PostgreSQL lock source (pg-source/) ----
  /** connection strings of databases whose lock waits join a namespace's graph (`<namespace>=postgres://…`; default namespace otherwise) */
  watchPostgres: z.array(
    z.string().refine(
      (s) => /^([A-Za-z0-9][A-Za-z0-9._-]{0,63}=)?postgres(ql)?:\/\/\S+$/.test(s) || /^\s*\w+\s*=/.test(s),
      'a postgres:// URL (optionally <namespace>=postgres://…) or a key=value connection string',
    ),
  ),
  pgPollMs: int(1, 60_000),
  /** resolve deadlocks made only of database waits (before PostgreSQL's deadlock_timeout) */
  pgResolve: z.boolean(),
  /** a backend no SDK reported may be cancelled as a victim (with pgResolve) */
  pgCancelUnowned: z.boolean(),
  /** query text kept per backend in reports */
  pgQueryChars: int(16, 10_000),
  // ---- durable history (history-store/) ----
  /** where the daemon keeps its state (the history file by default) */
  dataDir: z.string().min(1),
  /** the SQLite file of the history; '' = history.sqlite in dataDir; ':memory:' = kept in memory only */
  historyFile: z.string(),
  /** history entries (and groups) older than this are dropped; 0 = no age limit */
  historyMaxAgeMs: int(0),
  // ---- long waits (long-wait-log.ts, engine/long-waits.ts) ----
  /** log a wait once when it has been pending this long (0 = off), like PostgreSQL's log_lock_waits */
  logWaitsAfterMs: int(0, 2_147_483_647),
  /** long-wait log lines per second and namespace; the rest are counted in one summary line */
  maxWaitLogsPerSecond: int(1),
  /** owners a blocking chain follows (log lines and GET /v1/waits) */
  maxWaitChain: int(1, 1_000),
});
export type Config = z.infer<typeof ConfigSchema>;

type Key = keyof Config;

interface Setting {
  flag: string;
  env: string;
  help: string;
  /** what a string value from env/argv must look like (for the error message) */
  expects: string;
  /** string (env/argv) → typed value; zod then checks ranges */
  fromString: (raw: string) => unknown;
  /** a flag without a value (`--pg-resolve`); env takes true/false */
  boolean?: true;
  /** a flag that may be given several times (values collected into a list) */
  multiple?: true;
}

const asInt = (raw: string): unknown => (/^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw);
const asList = (raw: string): unknown =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
const asText = (raw: string): unknown => raw;
const asBool = (raw: string): unknown => (/^(true|1|yes)$/i.test(raw.trim()) ? true : /^(false|0|no)$/i.test(raw.trim()) ? false : raw);
/** env: several connection URLs separated by whitespace */
const asUrls = (raw: string): unknown => raw.split(/\s+/).filter((s) => s.length > 0);

/**
 * `token1=ns1,token2=ns2` → {token1: 'ns1', …}. Split at the last `=` so a
 * token may contain `=` (base64 padding). Never echoes a token in an error.
 */
function asTokenMap(raw: string): unknown {
  const map: Record<string, string> = {};
  const entries = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  entries.forEach((entry, i) => {
    const eq = entry.lastIndexOf('=');
    if (eq <= 0 || eq === entry.length - 1) {
      throw new ConfigError(`invalid value for --tokens (DEADLOCKD_TOKENS): entry ${i + 1} is not of the form token=namespace`);
    }
    map[entry.slice(0, eq)] = entry.slice(eq + 1);
  });
  return map;
}

function setting(flag: string, help: string, expects: string, fromString: Setting['fromString']): Setting {
  return { flag, env: `DEADLOCKD_${flag.replace(/-/g, '_').toUpperCase()}`, help, expects, fromString };
}

export const SETTINGS: Record<Key, Setting> = {
  port: setting('port', 'TCP port for WebSocket, REST and the dashboard (0 = any free port)', 'an integer from 0 to 65535', asInt),
  host: setting('host', 'interface to bind (0.0.0.0 to accept other machines)', 'a host name or IP address', asText),
  logLevel: setting('log-level', 'pino log level', LOG_LEVELS.join('|'), asText),
  logFormat: setting('log-format', 'json (one JSON object per line on stdout) or pretty (readable lines, pino-pretty)', LOG_FORMATS.join('|'), asText),
  maxFrameBytes: setting('max-frame-bytes', 'largest WebSocket frame accepted from a client', 'an integer from 64 to 536870912', asInt),
  maxEventsPerFrame: setting('max-events-per-frame', 'most events in one `events`/`snapshot` frame', 'a positive integer', asInt),
  maxSnapshotEvents: setting('max-snapshot-events', 'most events in one snapshot, all its parts together', 'a positive integer', asInt),
  disconnectGraceMs: setting('disconnect-grace-ms', "how long a disconnected client's holds are kept, waiting for it to resume", 'a non-negative integer', asInt),
  heartbeatMs: setting('heartbeat-ms', 'ping every WebSocket peer this often; one that sent nothing since the last ping is cut off (0 = off)', 'an integer from 0 to 2147483647', asInt),
  confirmTimeoutMs: setting('confirm-timeout-ms', 'how long to wait for clients to confirm a cross-client deadlock', 'a positive integer', asInt),
  confirmRounds: setting('confirm-rounds', 'confirm rounds before an unconfirmed deadlock is dropped', 'an integer from 1 to 100', asInt),
  abortTimeoutMs: setting('abort-timeout-ms', 'an abort not carried out within this time expires; the deadlock is re-decided without that owner', 'a positive integer', asInt),
  abortAnswerMarginMs: setting('abort-answer-margin-ms', 'time after an abort expires for its cancel to arrive before the re-decision', 'a non-negative integer', asInt),
  sweepIntervalMs: setting('sweep-interval-ms', 'period of the full safety-net sweep (0 = off)', 'a non-negative integer', asInt),
  searchSliceMs: setting('search-slice-ms', 'a namespace works this long at most per turn of the event loop (a search, a sweep, a graph read, the frames they held) before the daemon serves others; its namespace waits for the rest (0 = no slices)', 'an integer from 0 to 60000', asInt),
  historySize: setting('history-size', 'deadlocks kept in the history', 'a positive integer', asInt),
  maxOwnersPerClient: setting('max-owners-per-client', 'owners (tasks) one client may have live; more → LIMIT_EXCEEDED', 'a positive integer', asInt),
  maxResourcesPerClient: setting('max-resources-per-client', 'resources one client may declare', 'a positive integer', asInt),
  maxWaitsPerClient: setting('max-waits-per-client', 'pending waits one client may have', 'a positive integer', asInt),
  maxHoldsPerClient: setting('max-holds-per-client', 'holds one client may have', 'a positive integer', asInt),
  maxGlobalResources: setting('max-global-resources', 'shared (global) resources in one namespace', 'a positive integer', asInt),
  maxOwnersPerNamespace: setting('max-owners-per-namespace', 'live owners of all clients of one namespace together; more → LIMIT_EXCEEDED', 'a positive integer', asInt),
  maxResourcesPerNamespace: setting('max-resources-per-namespace', 'resources (local and shared) of one namespace together', 'a positive integer', asInt),
  maxWaitsPerNamespace: setting('max-waits-per-namespace', 'pending waits of one namespace together', 'a positive integer', asInt),
  maxHoldsPerNamespace: setting('max-holds-per-namespace', 'holds of one namespace together', 'a positive integer', asInt),
  maxReportMembers: setting('max-report-members', 'members a deadlock report lists (the rest are counted)', 'a positive integer', asInt),
  maxReportHolds: setting('max-report-holds', 'holds (and waits) a deadlock report lists per member (the rest are counted)', 'a positive integer', asInt),
  maxReportEdges: setting('max-report-edges', 'wait-for edges a deadlock report lists (the rest are counted)', 'a positive integer', asInt),
  maxHistoryBytes: setting('max-history-bytes', "bytes of reports one namespace's history keeps; the oldest go first", 'an integer of at least 1024', asInt),
  maxQueuedBytes: setting('max-queued-bytes', 'bytes queued for one SDK connection that does not read; more → SLOW_CONSUMER, cut off', 'an integer of at least 65536', asInt),
  maxErrorFramesPerSecond: setting('max-error-frames-per-second', 'error frames sent to one connection per second; the rest are counted in ERRORS_SUPPRESSED', 'a positive integer', asInt),
  helloTimeoutMs: setting('hello-timeout-ms', 'close a connection that sent no `hello` this long after opening (HELLO_TIMEOUT)', 'a positive integer', asInt),
  snapshotTimeoutMs: setting('snapshot-timeout-ms', "a snapshot's last part must arrive this soon after its first (SNAPSHOT_TIMEOUT)", 'a positive integer', asInt),
  maxSnapshotEventsInFlight: setting('max-snapshot-events-in-flight', 'events of unfinished snapshots held for all connections together (SNAPSHOT_BUSY)', 'a positive integer', asInt),
  maxGraphNodes: setting('max-graph-nodes', 'most nodes GET /v1/graph and /v1/graph.dot return (cap of their `limit`)', 'an integer from 1 to 10000000', asInt),
  maxDrawnNodes: setting('max-drawn-nodes', 'most nodes the dashboard draws (the rest are counted)', 'an integer from 1 to 1000000', asInt),
  metricsToken: setting('metrics-token', 'token that sees every namespace on /metrics when auth is on (a namespace token sees its own)', 'a token without spaces', asText),
  victimOrder: setting('victim-order', 'victim criteria, in order', `a comma-separated list of ${VICTIM_CRITERIA.join(', ')} without repeats`, asList),
  tokens: setting('tokens', 'auth tokens and their namespaces, token1=ns1,token2=ns2 (any token turns auth on)', 'token=namespace pairs separated by commas', asTokenMap),
  tokensFile: setting('tokens-file', 'JSON file {"<token>": "<namespace>"} (or {"<token>": {"namespace": …, "watchPostgres": [urls]}}) read at start (merged with --tokens)', 'a file path', asText),
  maxHistoryLimit: setting('max-history-limit', 'most deadlocks one GET /v1/deadlocks returns (cap of its `limit`)', 'an integer from 1 to 1000000', asInt),
  watchPostgres: {
    ...setting('watch-postgres', "watch this PostgreSQL database's lock waits; `<namespace>=postgres://…` for another namespace than the default (repeatable; env: URLs separated by spaces)", 'a connection string', asUrls),
    multiple: true,
  },
  pgPollMs: setting('pg-poll-ms', 'how often the PostgreSQL source polls pg_stat_activity (pg_locks only when someone waits)', 'an integer from 1 to 60000', asInt),
  pgResolve: { ...setting('pg-resolve', 'resolve deadlocks made only of database waits, before PostgreSQL does', 'true or false', asBool), boolean: true },
  pgCancelUnowned: {
    ...setting('pg-cancel-unowned', 'with --pg-resolve, a backend no SDK reported (psql, another app) may be cancelled as a victim', 'true or false', asBool),
    boolean: true,
  },
  pgQueryChars: setting('pg-query-chars', 'query text kept per backend in deadlock reports', 'an integer from 16 to 10000', asInt),
  dataDir: setting('data-dir', 'directory of the daemon\'s state (the history file); default $XDG_STATE_HOME/deadlockd when XDG_STATE_HOME is set', 'a directory path', asText),
  historyFile: setting('history-file', 'SQLite file the deadlock history is kept in across restarts (none given: history.sqlite in --data-dir); :memory: keeps no file', 'a file path or :memory:', asText),
  historyMaxAgeMs: setting('history-max-age-ms', 'deadlocks (and recurring groups) older than this leave the history (0 = no age limit)', 'a non-negative integer', asInt),
  logWaitsAfterMs: setting('log-waits-after-ms', 'log a wait (who, what, blocked by whom) once it has been pending this long, like log_lock_waits (0 = off)', 'an integer from 0 to 2147483647', asInt),
  maxWaitLogsPerSecond: setting('max-wait-logs-per-second', 'long-wait log lines per second per namespace; the rest are counted in one summary line', 'a positive integer', asInt),
  maxWaitChain: setting('max-wait-chain', 'owners a blocking chain follows, in long-wait lines and GET /v1/waits', 'an integer from 1 to 1000', asInt),
};

export const DEFAULT_CONFIG: Config = {
  port: 7070,
  host: '127.0.0.1',
  logLevel: 'info',
  logFormat: 'json',
  maxFrameBytes: 1_048_576,
  maxEventsPerFrame: 10_000,
  maxSnapshotEvents: 250_000,
  disconnectGraceMs: 5_000,
  heartbeatMs: 10_000,
  confirmTimeoutMs: 2_000,
  confirmRounds: 3,
  abortTimeoutMs: 5_000,
  abortAnswerMarginMs: 1_000,
  sweepIntervalMs: 5_000,
  searchSliceMs: 2,
  historySize: 1_000,
  maxOwnersPerClient: DEFAULT_ENGINE_LIMITS.maxOwnersPerClient,
  maxResourcesPerClient: DEFAULT_ENGINE_LIMITS.maxResourcesPerClient,
  maxWaitsPerClient: DEFAULT_ENGINE_LIMITS.maxWaitsPerClient,
  maxHoldsPerClient: DEFAULT_ENGINE_LIMITS.maxHoldsPerClient,
  maxGlobalResources: DEFAULT_ENGINE_LIMITS.maxGlobalResources,
  maxOwnersPerNamespace: DEFAULT_ENGINE_LIMITS.maxOwnersPerNamespace,
  maxResourcesPerNamespace: DEFAULT_ENGINE_LIMITS.maxResourcesPerNamespace,
  maxWaitsPerNamespace: DEFAULT_ENGINE_LIMITS.maxWaitsPerNamespace,
  maxHoldsPerNamespace: DEFAULT_ENGINE_LIMITS.maxHoldsPerNamespace,
  maxReportMembers: DEFAULT_ENGINE_LIMITS.maxReportMembers,
  maxReportHolds: DEFAULT_ENGINE_LIMITS.maxReportHolds,
  maxReportEdges: DEFAULT_ENGINE_LIMITS.maxReportEdges,
  maxHistoryBytes: 16 * 1024 * 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
  maxErrorFramesPerSecond: 100,
  helloTimeoutMs: 10_000,
  snapshotTimeoutMs: 30_000,
  maxSnapshotEventsInFlight: 500_000,
  maxGraphNodes: 10_000,
  maxDrawnNodes: 1_000,
  metricsToken: '',
  victimOrder: ['priority', 'youngest', 'work', 'closer'],
  tokens: {},
  tokensFile: '',
  maxHistoryLimit: 1_000,
  watchPostgres: [],
  pgPollMs: 50,
  pgResolve: false,
  pgCancelUnowned: false,
  pgQueryChars: 200,
  dataDir: './data',
  historyFile: '',
  historyMaxAgeMs: 30 * 24 * 60 * 60 * 1000,
  logWaitsAfterMs: 1_000,
  maxWaitLogsPerSecond: 100,
  maxWaitChain: 8,
};

/** The history's SQLite file: --history-file, else history.sqlite in --data-dir (or `:memory:`). */
export function historyFilePath(c: Pick<Config, 'dataDir' | 'historyFile'>): string {
  return c.historyFile === '' ? join(c.dataDir, 'history.sqlite') : c.historyFile;
}

/** A bad setting: the CLI prints `message` and exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const KEYS = Object.keys(SETTINGS) as Key[];

/** How a value is shown in --help and errors. Token maps never show the tokens themselves. */
function displayValue(v: unknown): string {
  if (Array.isArray(v)) return v.join(',');
  if (v !== null && typeof v === 'object') {
    const n = Object.keys(v).length;
    return n === 0 ? 'none (auth off)' : `${n} token(s)`;
  }
  return v === '' ? 'none' : String(v);
}

/** Reads a tokens file (see TokenFileMap); errors name the file, never a token or a connection string. */
function readTokensFile(path: string): { tokens: Record<string, string>; watchPostgres: string[] } {
  const where = `--tokens-file (DEADLOCKD_TOKENS_FILE) "${path}"`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read ${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = TokenFileMap.safeParse(parsed);
  if (!r.success) {
    const issue = r.error.issues[0];
    // the issue path would be the token itself: say which entry instead
    const index = issue && issue.path.length > 0 && parsed && typeof parsed === 'object' ? Object.keys(parsed).indexOf(String(issue.path[0])) : -1;
    const at = index >= 0 ? ` (entry ${index + 1})` : '';
    throw new ConfigError(
      `invalid ${where}: expected a JSON object {"<token>": "<namespace>" or {"namespace": …, "watchPostgres": [urls]}}${at}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const tokens: Record<string, string> = {};
  const watchPostgres: string[] = [];
  for (const [token, v] of Object.entries(r.data)) {
    if (typeof v === 'string') tokens[token] = v;
    else {
      tokens[token] = v.namespace;
      for (const url of v.watchPostgres) watchPostgres.push(`${v.namespace}=${url}`);
    }
  }
  return { tokens, watchPostgres };
}

/** The engine's limits as configured (every engine of the daemon gets the same). */
export function engineLimits(c: Config): EngineLimits {
  return {
    maxOwnersPerClient: c.maxOwnersPerClient,
    maxResourcesPerClient: c.maxResourcesPerClient,
    maxWaitsPerClient: c.maxWaitsPerClient,
    maxHoldsPerClient: c.maxHoldsPerClient,
    maxGlobalResources: c.maxGlobalResources,
    maxOwnersPerNamespace: c.maxOwnersPerNamespace,
    maxResourcesPerNamespace: c.maxResourcesPerNamespace,
    maxWaitsPerNamespace: c.maxWaitsPerNamespace,
    maxHoldsPerNamespace: c.maxHoldsPerNamespace,
    maxReportMembers: c.maxReportMembers,
    maxReportHolds: c.maxReportHolds,
    maxReportEdges: c.maxReportEdges,
  };
}

/** Validates a full config; the error names the setting by flag and env name. */
function validateConfig(candidate: Record<Key, unknown>): Config {
  const r = ConfigSchema.safeParse(candidate);
  if (r.success) {
    // a snapshot that fits one frame must never be refused as too large
    if (r.data.maxSnapshotEvents < r.data.maxEventsPerFrame) {
      throw new ConfigError(
        `--max-snapshot-events (${r.data.maxSnapshotEvents}) must be at least --max-events-per-frame (${r.data.maxEventsPerFrame})`,
      );
    }
    // one client's largest snapshot must fit the budget of all of them
    if (r.data.maxSnapshotEventsInFlight < r.data.maxSnapshotEvents) {
      throw new ConfigError(
        `--max-snapshot-events-in-flight (${r.data.maxSnapshotEventsInFlight}) must be at least --max-snapshot-events (${r.data.maxSnapshotEvents})`,
      );
    }
    const config = withTokensFile(r.data);
    if (config.metricsToken !== '' && config.tokens[config.metricsToken] !== undefined) {
      throw new ConfigError('--metrics-token (DEADLOCKD_METRICS_TOKEN) must differ from every namespace token');
    }
    return config;
  }
  const lines = r.error.issues.map((issue) => {
    const key = issue.path[0] as Key | undefined;
    if (key === undefined || !(key in SETTINGS)) return issue.message;
    const s = SETTINGS[key];
    // for token maps the path's second element is a token: never print it (nor the metrics token, nor
    // a connection string: it may carry a password)
    const value = key === 'tokens' || key === 'metricsToken' || key === 'watchPostgres' ? '' : ` "${displayValue(candidate[key])}":`;
    return `invalid value for --${s.flag} (${s.env}):${value} expected ${s.expects} (${issue.message})`;
  });
  throw new ConfigError(lines.join('\n'));
}

/** Merges the tokens file into `tokens`; one token naming two namespaces is an error. */
function withTokensFile(config: Config): Config {
  if (config.tokensFile === '') return config;
  const { tokens: fromFile, watchPostgres } = readTokensFile(config.tokensFile);
  for (const [token, ns] of Object.entries(fromFile)) {
    const given = config.tokens[token];
    if (given !== undefined && given !== ns) {
      throw new ConfigError('a token appears in --tokens and --tokens-file with different namespaces');
    }
  }
  // a database watched for a namespace through the file joins the ones named by --watch-postgres
  const watched = [...config.watchPostgres, ...watchPostgres.filter((w) => !config.watchPostgres.includes(w))];
  return { ...config, tokens: { ...fromFile, ...config.tokens }, watchPostgres: watched };
}

/** Builds a config from defaults plus programmatic overrides (tests, bench, embedding). */
export function resolveConfig(overrides: Partial<Config> = {}): Config {
  return validateConfig({ ...DEFAULT_CONFIG, ...overrides });
}

export type CliParse = { kind: 'help' } | { kind: 'version' } | { kind: 'config'; config: Config };

/** Parses env then argv (flags win). Throws ConfigError on an unknown flag or a bad value. */
export function parseConfigSources(argv: string[], env: NodeJS.ProcessEnv): CliParse {
  const merged: Record<Key, unknown> = { ...DEFAULT_CONFIG };
  // the XDG base directory spec's place for state, when the environment names one
  if (env['XDG_STATE_HOME']) merged.dataDir = join(env['XDG_STATE_HOME'], 'deadlockd');
  for (const key of KEYS) {
    const raw = env[SETTINGS[key].env];
    if (raw !== undefined && raw !== '') merged[key] = SETTINGS[key].fromString(raw);
  }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const key of KEYS) {
    const s = SETTINGS[key];
    options[s.flag] = { type: s.boolean ? 'boolean' : 'string', ...(s.multiple ? { multiple: true } : {}) };
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\nrun with --help to list the settings`);
  }
  if (values['help'] === true) return { kind: 'help' };
  if (values['version'] === true) return { kind: 'version' };
  for (const key of KEYS) {
    const raw = values[SETTINGS[key].flag];
    if (typeof raw === 'string') merged[key] = SETTINGS[key].fromString(raw);
    else if (typeof raw === 'boolean' || Array.isArray(raw)) merged[key] = raw;
  }
  return { kind: 'config', config: validateConfig(merged) };
}

/** The config of this process (or of the given argv/env); --help is an error here. */
export function loadConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  const r = parseConfigSources(argv, env);
  if (r.kind !== 'config') throw new ConfigError(`--${r.kind} is only meaningful on the command line`);
  return r.config;
}

export function helpText(): string {
  const rows = KEYS.map((key) => {
    const s = SETTINGS[key];
    return `  --${s.flag} <value>\n      ${s.help}\n      env ${s.env}, default ${displayValue(DEFAULT_CONFIG[key])}`;
  });
  return [
    'usage: deadlockd [options]',
    '',
    'Wait-for-graph deadlock detector daemon. Each setting can also be given as an',
    'environment variable; flags win over the environment.',
    '',
    ...rows,
    '  -h, --help',
    '      print this text and exit',
    '  -v, --version',
    '      print the version and exit',
    '',
  ].join('\n');
}
