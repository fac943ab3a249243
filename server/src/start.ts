// Starts a daemon: build, listen, and report where it listens.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer, type BuildOptions } from './app.js';
import type { Config } from './config.js';

export interface RunningDaemon {
  app: FastifyInstance;
  /** http://host:port, with the real port when config.port is 0 */
  url: string;
  port: number;
  /** true when only this machine can connect */
  loopbackOnly: boolean;
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startDaemon(config: Config, options: BuildOptions = {}): Promise<RunningDaemon> {
  const app = buildServer(config, options);
  await app.listen({ port: config.port, host: config.host });
  const port = (app.server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const loopbackOnly = isLoopback(config.host);
  if (!loopbackOnly && !app.deadlockd.tokens.enabled) {
    app.log.warn(
      { host: config.host, port },
      'AUTH IS OFF and the daemon listens beyond loopback: anyone who can reach this port can read every deadlock and graph and ' +
        'connect as a client. Set --tokens / DEADLOCKD_TOKENS or --tokens-file / DEADLOCKD_TOKENS_FILE, or bind to 127.0.0.1.',
    );
  }
  return {
    app,
    url: `http://${host}:${port}`,
    port,
    loopbackOnly,
    close: () => app.close(),
  };
}
