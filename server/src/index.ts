// Public entry of @deadlockd/server: build and configure a daemon in-process
// (end-to-end tests, the bench, embedding).
export { buildServer, type BuildOptions, type Daemon } from './app.js';
export {
  loadConfig,
  resolveConfig,
  parseConfigSources,
  helpText,
  ConfigError,
  ConfigSchema,
  DEFAULT_CONFIG,
  SETTINGS,
  type Config,
  type CliParse,
} from './config.js';
export { Hub, DEFAULT_NAMESPACE, type HubStats, type NamespaceStats, type ClientEntry } from './hub.js';
export type { ResolverStats } from './resolver.js';
export type { HistoryEntry, DeadlockStatus } from './history.js';
export { startDaemon, type RunningDaemon } from './start.js';
export type * from './engine/types.js';
export { PgSource, startPgSources, type PgSourceOptions, type PgSourceStats } from './pg-source/index.js';
