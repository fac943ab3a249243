// Builds the daemon's HTTP + WebSocket server (not yet listening).
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { WebSocket } from 'ws';
import type { Config } from './config.js';
import { Hub } from './hub.js';
import { Metrics } from './metrics.js';
import { DEFAULT_NAMESPACE, TokenTable } from './tokens.js';
import { Session, sessionShared } from './session.js';
import { GuardedSocket } from './guarded-socket.js';
import { startHeartbeat, type Heartbeat } from './heartbeat.js';
import { dashboard } from './dashboard/index.js';
import { authPlugin } from './auth.js';
import { loggerOptions } from './logging.js';
import { restApi } from './rest/index.js';
import { startPgSources, type PgSource } from './pg-source/index.js';

/** What the daemon hangs on its fastify instance (REST routes, tests and the bench reach the hub here). */
export interface Daemon {
  config: Config;
  hub: Hub;
  metrics: Metrics;
  /** token → namespace; empty when auth is off */
  tokens: TokenTable;
  startedAt: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    deadlockd: Daemon;
  }
}

export interface BuildOptions {
  /** where pino writes (default stdout); tests pass a stream to read the log lines */
  logStream?: NodeJS.WritableStream;
  /** engine clock (default Date.now) */
  now?: () => number;
}

/** How long shutdown waits for clients to finish the close handshake before cutting them off. */
const CLOSE_HANDSHAKE_MS = 1_000;

export function buildServer(config: Config, options: BuildOptions = {}): FastifyInstance {
  const app = Fastify(loggerOptions(config, options.logStream));
  const tokens = new TokenTable(config.tokens);
  const metrics: Metrics = new Metrics(() => hub, tokens.enabled ? tokens.namespaces() : [DEFAULT_NAMESPACE]);
  const hub: Hub = new Hub(config, app.log, { metrics, ...(options.now ? { now: options.now } : {}) });
  app.decorate('deadlockd', { config, hub, metrics, tokens, startedAt: Date.now() } satisfies Daemon);

  app.register(websocket, {
    // One byte over the limit still reaches us, so we can answer FRAME_TOO_LARGE
    // with an error frame; anything bigger is closed by ws itself with 1009, and
    // GuardedSocket lets the session send FRAME_TOO_LARGE first. UTF-8 is checked
    // by the frame decoder (BAD_UTF8 error frame) instead of a bare 1007 from ws.
    options: {
      maxPayload: config.maxFrameBytes + 1,
      skipUTF8Validation: true,
      // the plugin's typings name ws's CommonJS module type, which a subclass imported as ESM cannot satisfy
      WebSocket: GuardedSocket as never,
    },
    errorHandler(error, socket, request) {
      request.log.warn({ err: error }, 'websocket error');
      // ws already started a close handshake for protocol errors (1009, 1007…): let it finish.
      if (socket.readyState === WebSocket.OPEN) socket.terminate();
    },
    preClose(done) {
      // Close every client with 1001 (going away), give them a moment to answer
      // the close handshake, then cut off the ones that did not.
      const wss = this.websocketServer;
      const finish = () => wss.close(() => done());
      const clients = [...wss.clients];
      for (const ws of clients) ws.close(1001, 'daemon shutting down');
      const pending = clients.filter((ws) => ws.readyState !== WebSocket.CLOSED);
      if (pending.length === 0) return finish();
      let left = pending.length;
      const timer = setTimeout(() => {
        for (const ws of pending) ws.terminate();
      }, CLOSE_HANDSHAKE_MS);
      for (const ws of pending) {
        ws.once('close', () => {
          if (--left === 0) {
            clearTimeout(timer);
            finish();
          }
        });
      }
    },
  });

  // After websocket: a refused WebSocket upgrade needs that plugin's hooks to close the socket.
  app.register(authPlugin);

  const sessions = new WeakMap<WebSocket, Session>();
  const shared = sessionShared(config);
  metrics.watchSnapshotBudget(() => shared.snapshotBudget.inFlight);
  metrics.watchOldestWaits(() => hub.oldestWaits());
  app.register(async (scoped) => {
    scoped.get('/v1/stream', { websocket: true }, (socket, request) => {
      sessions.set(socket, new Session({ socket, hub, metrics, tokens, config, log: request.log, shared }));
    });
  });

  app.register(dashboard);
  app.register(restApi);

  app.get('/healthz', async () => ({
    status: 'ok',
    uptimeSeconds: Math.floor((Date.now() - app.deadlockd.startedAt) / 1000),
  }));

  // a namespace token sees its own namespace only (see auth.ts)
  app.get('/metrics', async (request, reply) => {
    reply.header('content-type', metrics.contentType);
    return request.seesAllNamespaces ? metrics.allText() : metrics.namespaceText(request.namespace);
  });

  // Ready = accepting SDK connections; 503 once shutdown has begun, so a load
  // balancer stops routing here before the sockets close.
  let closing = false;
  app.get('/readyz', async (_req, reply) => {
    if (closing) return reply.code(503).send({ status: 'closing' });
    return { status: 'ready' };
  });
  app.addHook('preClose', async () => {
    closing = true;
  });

  let heartbeat: Heartbeat | undefined;
  if (config.heartbeatMs > 0) {
    app.addHook('onReady', async () => {
      heartbeat = startHeartbeat(app.websocketServer, config.heartbeatMs, (socket) =>
        app.log.warn(
          { client: sessions.get(socket)?.id ?? undefined, heartbeatMs: config.heartbeatMs },
          'a WebSocket peer missed its pong: connection presumed dead, cut off',
        ),
      );
    });
  }
  let pgSources: PgSource[] = [];
  if (config.watchPostgres.length > 0) app.addHook('onReady', async () => {
    pgSources = startPgSources(config, hub, app.log);
    metrics.watchPgSources(() => pgSources.map((s) => s.stats));
  });
  app.addHook('onClose', async () => {
    heartbeat?.stop();
    await Promise.all(pgSources.map((s) => s.stop()));
    hub.close();
    metrics.close();
  });
  return app;
}
