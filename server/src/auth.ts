// Tokens and namespaces. With no tokens configured, auth is off and every
// request and stream lives in the `default` namespace. With tokens, each token
// names the namespace its holder sees and acts in: REST, the dashboard and
// /metrics need one (`Authorization: Bearer <token>` or `?token=<token>`,
// since browsers cannot set headers on a WebSocket); the SDK stream carries
// it in `hello` (checked by the Session, so a refusal is an `error` frame the
// SDK understands rather than a failed upgrade). /healthz and /readyz stay
// open for load balancers and orchestrators.
//
// /metrics is the one route a namespace token sees only part of: its own
// namespace's series. The whole of it needs --metrics-token (or auth off).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_NAMESPACE, secretEquals } from './tokens.js';
import { sendError } from './rest/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** the caller's namespace: the token's, or 'default' when auth is off (set by the auth plugin) */
    namespace: string;
    /** true when auth is off, or /metrics was called with the metrics token: every namespace is visible */
    seesAllNamespaces: boolean;
  }
}

/** The only route the metrics token opens. */
const METRICS_PATH = '/metrics';

/** Routes anyone may call: liveness and readiness probes. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);
/** The SDK stream: authenticated by `hello.token` (see Session). */
const STREAM_PATH = '/v1/stream';
/** The Swagger UI pages (a browser cannot add a header to them): see docsCookie. */
const DOCS_PREFIX = '/docs';
const DOCS_COOKIE = 'deadlockd_docs_token';

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** `Authorization: Bearer <t>`, else `?token=<t>`, else (under /docs only) the docs cookie. */
function presentedToken(request: FastifyRequest): { token: string | undefined; fromQuery: boolean } {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) return { token: m[1], fromQuery: false };
  }
  const query = request.query as Record<string, unknown> | undefined;
  const q = query?.['token'];
  if (typeof q === 'string' && q !== '') return { token: q, fromQuery: true };
  if (pathOf(request.url).startsWith(DOCS_PREFIX)) {
    const cookie = readCookie(request.headers.cookie, DOCS_COOKIE);
    if (cookie !== undefined) return { token: cookie, fromQuery: false };
  }
  return { token: undefined, fromQuery: false };
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The Swagger UI page fetches `./json` and its assets relative to its own URL,
 * without our query string or header. So a valid `?token=` on a /docs page
 * sets an HttpOnly, SameSite=Strict cookie scoped to /docs and redirects to
 * the same page without the token; the UI's own requests then carry the cookie.
 */
function docsCookie(request: FastifyRequest, reply: FastifyReply, token: string): boolean {
  const path = pathOf(request.url);
  if (!path.startsWith(DOCS_PREFIX) || request.method !== 'GET') return false;
  const params = new URLSearchParams(request.url.slice(path.length + 1));
  params.delete('token');
  const rest = params.toString();
  reply
    .header('set-cookie', `${DOCS_COOKIE}=${encodeURIComponent(token)}; Path=${DOCS_PREFIX}; HttpOnly; SameSite=Strict`)
    .redirect(rest ? `${path}?${rest}` : path, 303);
  return true;
}

/**
 * The auth plugin. Registered with skip-override so its decoration and hook
 * sit on the root instance and cover every route of every plugin.
 */
export async function authPlugin(app: FastifyInstance): Promise<void> {
  const tokens = app.deadlockd.tokens;
  const metricsToken = app.deadlockd.config.metricsToken;
  app.decorateRequest('namespace', DEFAULT_NAMESPACE);
  app.decorateRequest('seesAllNamespaces', !tokens.enabled);
  if (!tokens.enabled) return;
  app.log.info({ namespaces: tokens.namespaces() }, 'auth on: every route but /healthz and /readyz needs a token');

  app.addHook('onRequest', async (request, reply) => {
    const path = pathOf(request.url);
    if (OPEN_PATHS.has(path) || path === STREAM_PATH) return;
    const { token, fromQuery } = presentedToken(request);
    if (path === METRICS_PATH && metricsToken !== '' && token !== undefined && secretEquals(token, metricsToken)) {
      request.seesAllNamespaces = true;
      return;
    }
    const namespace = tokens.namespaceOf(token);
    if (namespace === null) {
      request.log.info({ path, tokenGiven: token !== undefined }, 'request refused: missing or invalid token');
      reply.header('www-authenticate', 'Bearer realm="deadlockd"');
      return sendError(reply, 401, 'UNAUTHORIZED', token === undefined ? 'a token is required (Authorization: Bearer <token> or ?token=<token>)' : 'invalid token');
    }
    request.namespace = namespace;
    if (fromQuery && token !== undefined && docsCookie(request, reply, token)) return reply;
  });
}
(authPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

/** `?token=…` in a URL → `?token=[redacted]`, for logs. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}

/**
 * pino serializer for fastify's request log lines ("incoming request"), same
 * fields as fastify's default but with `?token=` redacted. Wire it as
 * `Fastify({ logger: { serializers: authLogSerializers, … } })`.
 */
export const authLogSerializers = {
  req(req: FastifyRequest): Record<string, unknown> {
    return {
      method: req.method,
      url: redactToken(req.url),
      host: req.host,
      remoteAddress: req.ip,
      remotePort: req.socket?.remotePort,
    };
  },
};
