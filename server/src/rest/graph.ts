// The live wait-for graph as graphology JSON (what sigma.js and other
// graphology tools load with `graph.import()`) and as Graphviz DOT, whole or
// only its blocked part; one owner and one resource in detail.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { exportGraph, graphToDot, ownerDetail, resourceDetail } from '../engine/export.js';
import { longWaits } from '../engine/long-waits.js';
import { notFound } from './errors.js';
import { ErrorBody, GraphExport, LongWaitList, LongWaitsQuery, OwnerDetail, ResourceDetail, graphQuery } from './schemas.js';

export async function graphRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const hub = app.deadlockd.hub;
  const GraphQuery = graphQuery(app.deadlockd.config.maxGraphNodes);

  r.get('/graph', {
    schema: {
      tags: ['graph'],
      operationId: 'getGraph',
      summary: 'The live graph (graphology JSON)',
      description: 'At most `limit` nodes (default and cap --max-graph-nodes); `attributes.truncated` is true when the graph had more.',
      querystring: GraphQuery,
      response: { 200: GraphExport, 400: ErrorBody, 401: ErrorBody },
    },
  }, async (request) => {
    const g = exportGraph(hub.namespace(request.namespace).engine, { blockedOnly: request.query.blocked, maxNodes: request.query.limit });
    return g.export() as z.output<typeof GraphExport>;
  });

  r.get('/graph.dot', {
    schema: {
      tags: ['graph'],
      operationId: 'getGraphDot',
      summary: 'The live graph (Graphviz DOT)',
      description: 'Owners as boxes, resources as ellipses, waits dashed, deadlock members red. Render with `dot -Tsvg`.',
      querystring: GraphQuery,
      response: { 200: { description: 'a DOT digraph', content: { 'text/vnd.graphviz': { schema: z.string() } } }, 400: ErrorBody, 401: ErrorBody },
    },
  }, async (request, reply) => {
    const g = exportGraph(hub.namespace(request.namespace).engine, { blockedOnly: request.query.blocked, maxNodes: request.query.limit });
    return reply.type('text/vnd.graphviz; charset=utf-8').send(graphToDot(g));
  });

  r.get('/waits', {
    schema: {
      tags: ['graph'],
      operationId: 'listLongWaits',
      summary: 'Long waits: pending waits older than olderThanMs, oldest first, and what blocks them',
      description:
        'What PostgreSQL writes with log_lock_waits, at any time and across services: every wait pending at least `olderThanMs` ' +
        '(`minAgeMs` is the same), with its owner and process, what it waits for, since when, its call site, whether it is part ' +
        'of a deadlock, its direct blockers (like pg_blocking_pids) and the blocking chain to the owner at its head (at most ' +
        '--max-wait-chain steps). A long wait that is no deadlock (a slow holder) shows here and is never aborted.',
      querystring: LongWaitsQuery,
      response: { 200: LongWaitList, 400: ErrorBody, 401: ErrorBody },
    },
  }, async (request) => {
    const { olderThanMs, minAgeMs, limit } = request.query;
    const maxChain = app.deadlockd.config.maxWaitChain;
    return longWaits(hub.namespace(request.namespace).engine, { now: hub.now(), olderThanMs: olderThanMs ?? minAgeMs ?? 1_000, limit, maxChain });
  });

  r.get('/owners/:client/:owner', {
    schema: {
      tags: ['graph'],
      operationId: 'getOwner',
      summary: 'One owner: what it holds and waits for',
      params: z.object({ client: z.string().min(1).describe('session id'), owner: z.string().min(1).describe('owner id (URL-encoded)') }),
      response: { 200: OwnerDetail, 401: ErrorBody, 404: ErrorBody },
    },
  }, async (request, reply) => {
    const { client, owner } = request.params;
    const d = ownerDetail(hub.namespace(request.namespace).engine, client, owner);
    return d ?? notFound(reply, `owner ${client}/${owner}`);
  });

  r.get('/resources/:key', {
    schema: {
      tags: ['graph'],
      operationId: 'getResource',
      summary: 'One resource: holders and queue',
      params: z.object({ key: z.string().min(1).describe('resource key, URL-encoded: `g:<name>`, `<client>:<name>` or `task:<client>/<owner>`') }),
      response: { 200: ResourceDetail, 401: ErrorBody, 404: ErrorBody },
    },
  }, async (request, reply) => {
    const d = resourceDetail(hub.namespace(request.namespace).engine, request.params.key);
    return d ?? notFound(reply, `resource ${request.params.key}`);
  });
}
