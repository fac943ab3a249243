// The operators' dashboard: the page at `/`, its static files under
// /dashboard/, sigma's and graphology's browser bundles under /vendor/, and
// the live feed WebSocket at /v1/live (`?view=blocked` for only the blocked
// part of the graph). Auth is not checked here: the auth hook guards every
// route; this plugin only reads the request's namespace and passes the page's
// `?token=` on to the URLs it writes.
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { DEFAULT_NAMESPACE } from '../hub.js';
import { ASSETS_DIR, ASSETS_PREFIX, DashboardPage, VENDOR_FILES } from './assets.js';
import { LayoutThread } from './layout-thread.js';
import { LiveFeed } from './live-feed.js';
import type { LiveView } from './snapshot.js';
import { sendError } from '../rest/errors.js';

export type { LiveFrame, LiveNode } from './snapshot.js';

/** The request's namespace as the auth layer decorated it; 'default' while auth is off or absent. */
function namespaceOf(request: FastifyRequest): string {
  const ns = (request as unknown as { namespace?: unknown }).namespace;
  return typeof ns === 'string' && ns.length > 0 ? ns : DEFAULT_NAMESPACE;
}

function queryParam(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export async function dashboard(app: FastifyInstance): Promise<void> {
  // A daemon without the page's files (an image that did not copy them) still
  // detects deadlocks: it says so at start and on `/` instead of failing to start.
  let page: DashboardPage | null = null;
  try {
    page = new DashboardPage();
  } catch (err) {
    app.log.warn({ err, dir: ASSETS_DIR }, 'dashboard files not found; the dashboard at / is off');
  }
  const feeds = new Map<string, LiveFeed>();
  // every feed's layout runs there, off the event loop (started with the first viewer)
  const layouts = new LayoutThread();

  app.get('/', async (request, reply) => {
    if (!page) return sendError(reply, 503, 'DASHBOARD_UNAVAILABLE', `dashboard files not installed (${ASSETS_DIR})`);
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
    return page.render(queryParam(request, 'token'));
  });

  if (page) await app.register(fastifyStatic, {
    root: ASSETS_DIR,
    prefix: ASSETS_PREFIX,
    index: false,
    decorateReply: false,
    cacheControl: false,
    setHeaders: (reply) => {
      reply.header('cache-control', 'no-cache');
    },
  });

  const vendor = new Map<string, Promise<Buffer>>();
  app.get<{ Params: { file: string } }>('/vendor/:file', async (request, reply) => {
    // own keys only: `constructor`, `__proto__`, `toString`… are not files (they once answered 500 with Node's error text)
    const path = Object.hasOwn(VENDOR_FILES, request.params.file) ? VENDOR_FILES[request.params.file] : undefined;
    if (!path) return reply.code(404).send({ error: 'not found' });
    let body = vendor.get(path);
    if (!body) vendor.set(path, (body = readFile(path)));
    reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8');
    return body;
  });

  app.get('/v1/live', { websocket: true }, (socket, request) => {
    const namespace = namespaceOf(request);
    const view: LiveView = queryParam(request, 'view') === 'blocked' ? 'blocked' : 'all';
    const key = `${namespace}\u0000${view}`;
    let feed = feeds.get(key);
    if (!feed) feeds.set(key, (feed = new LiveFeed(app.deadlockd.hub, app.deadlockd.metrics, namespace, view, app.log, layouts, app.deadlockd.config.maxDrawnNodes)));
    // Feeds outlive their viewers (their timer stops): the next viewer of the
    // namespace gets the same layout. At most two per namespace.
    socket.on('message', () => {}); // the page sends nothing we act on
    void feed.join(socket);
  });

  app.addHook('onClose', async () => {
    for (const f of feeds.values()) f.stop();
    feeds.clear();
    await layouts.close();
  });
}
