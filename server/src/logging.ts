// The daemon's logger: pino through fastify. JSON lines on stdout by default (what log shippers
// read); `--log-format pretty` for a human at a terminal. Probes and scrapes (/healthz, /readyz,
// /metrics) arrive every few seconds from load balancers and Prometheus: their request lines are
// logged at debug, so the info log carries what happened to the daemon, not who looked at it.
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { createRequire } from 'node:module';
import type pretty from 'pino-pretty';
import type { Config } from './config.js';
import { authLogSerializers } from './auth.js';

/** Routes polled by machines; their request lines go to debug. */
const PROBE_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

const isProbe = (request: FastifyRequest): boolean => PROBE_ROUTES.has(request.routeOptions.url ?? '');

/** fastify's request lines (`incoming request`, `request completed`), at debug for probes and scrapes. */
class ProbesAtDebug extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (!isProbe(request)) return super.incomingRequest(request, reply, metadata);
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    // a probe that failed is worth the info log (and an error stays an error)
    if (error || !isProbe(request)) return super.requestCompleted(error, request, reply, metadata);
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/** pino-pretty, loaded only for `--log-format pretty` (a JSON-logging daemon never uses it; CommonJS, so required synchronously) */
const requirePretty = (): typeof pretty => createRequire(import.meta.url)('pino-pretty') as typeof pretty;

/** fastify's `logger` and `logController` options for this config. `stream` (tests) replaces stdout. */
export function loggerOptions(config: Config, stream?: NodeJS.WritableStream): Pick<FastifyServerOptions, 'logger' | 'logController'> {
  // pino-pretty in this process (no worker thread) and synchronous, so the last lines before an exit are written
  const destination = stream ?? (config.logFormat === 'pretty' ? requirePretty()({ sync: true, colorize: process.stdout.isTTY === true }) : undefined);
  return {
    // serializers: a `?token=` in a URL must never reach the logs
    logger: { level: config.logLevel, serializers: authLogSerializers, ...(destination ? { stream: destination } : {}) },
    logController: new ProbesAtDebug(),
  };
}
