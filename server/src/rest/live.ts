// The daemon itself: connected clients, statistics, and the wire protocol's
// JSON Schema at a stable URL.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ClientList, ErrorBody, Stats, WireSchema } from './schemas.js';

/** proto/schema/wire.json, through the package's export (works from the repo and from an installed package). */
function loadWireSchema(): Record<string, unknown> {
  const path = createRequire(import.meta.url).resolve('@deadlockd/proto/schema/wire.json');
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

export async function liveRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const hub = app.deadlockd.hub;
  const wire = loadWireSchema();

  r.get('/clients', {
    schema: {
      tags: ['daemon'],
      operationId: 'listClients',
      summary: 'Clients: connected, and disconnected ones within their grace period',
      response: { 200: ClientList, 401: ErrorBody },
    },
  }, async (request) => ({
    clients: hub.clientsIn(request.namespace).map((c) => ({
      id: c.id,
      service: c.service,
      instance: c.instance,
      ...(c.host !== undefined ? { host: c.host } : {}),
      ...(c.pid !== undefined ? { pid: c.pid } : {}),
      connectedAt: c.connectedAt,
      connected: c.conn !== null,
    })),
  }));

  r.get('/stats', {
    schema: {
      tags: ['daemon'],
      operationId: 'getStats',
      summary: 'Graph size, resolver counters and clients of this namespace',
      response: { 200: Stats, 401: ErrorBody },
    },
  }, async (request) => hub.namespaceStats(request.namespace));

  r.get('/schema/wire.json', {
    schema: {
      tags: ['daemon'],
      operationId: 'getWireSchema',
      summary: 'JSON Schema of the WebSocket protocol (/v1/stream)',
      response: { 200: { description: 'JSON Schema', content: { 'application/schema+json': { schema: WireSchema } } }, 401: ErrorBody },
    },
  }, async (_request, reply) => reply.type('application/schema+json').send(wire));
}
