// Opens the daemon's history file. With the built-in default location
// (./data/history.sqlite, no --data-dir or --history-file given) a place where
// no file can be made (a read-only root filesystem, a container user that may
// not write its working directory) is not fatal: the daemon warns and keeps
// the history in memory, as it did before there was a file, so an upgrade does
// not turn a running deployment into a crash loop. A location the operator
// named must work, or the daemon does not start.
import type { FastifyBaseLogger } from 'fastify';
import { DEFAULT_CONFIG, historyFilePath, type Config } from '../config.js';
import { HistoryDb, HistoryFileError } from './history-db.js';

export function openHistory(config: Pick<Config, 'dataDir' | 'historyFile'>, log: FastifyBaseLogger): HistoryDb {
  const path = historyFilePath(config);
  try {
    return HistoryDb.open(path);
  } catch (err) {
    const defaultPlace = config.historyFile === '' && config.dataDir === DEFAULT_CONFIG.dataDir;
    if (!(err instanceof HistoryFileError) || err.code !== 'HISTORY_FILE_UNWRITABLE' || !defaultPlace) throw err;
    log.warn(
      { historyFile: path, code: err.code, reason: err.message },
      'history: no file can be made at the default place; the history is kept in memory only (set --data-dir or --history-file to keep it across restarts)',
    );
    return HistoryDb.open(':memory:');
  }
}
