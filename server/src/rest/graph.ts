// The live wait-for graph as graphology JSON (what sigma.js and other
// graphology tools load with `graph.import()`) and as Graphviz DOT, whole or
// only its blocked part; one owner and one resource in detail.
//
// No stall: a graph response is a capture (a pass over at most `limit` nodes,
// engine/export.ts, itself in slices of --search-slice-ms) followed by its
// serialization in slices (sliced-body.ts), streamed with a poll of the event
// loop (its sockets read) between slices (after-poll.ts).
//
// What a reader sees when the graph changes mid-response: nothing of the
// change. The capture runs while its namespace holds every change (the
// clients' frames wait, as for a search in slices: Namespace.read), so it is
// the graph between two frames the daemon applied, and it copies every value
// it keeps. Later events, and detection running
// between the slices, change the engine, not the capture. So the body is the
// graph exactly as it was at the request's instant: every edge joins two
// nodes of the body and every count in a node matches its edges, as in the
// one-piece response this replaced; it may just be older by the time the
// last byte arrives.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { captureGraphSteps, dotEdge, dotHead, dotNode, DOT_TAIL, graphHeader, ownerDetail, resourceDetail, type GraphCapture } from '../engine/export.js';
import { longWaits } from '../engine/long-waits.js';
import { notFound } from './errors.js';
import { slicedBody } from '../sliced-body.js';
import { ErrorBody, GraphExport, LongWaitList, LongWaitsQuery, OwnerDetail, ResourceDetail, graphQuery } from './schemas.js';

/** graphology JSON (`graph.export()`), as a stream of slices. */
function jsonBody(g: GraphCapture): Readable {
  const head = JSON.stringify(graphHeader(g)).slice(0, -1);
  const nodes = { count: g.nodeCount, renderAt: (i: number) => g.nodeJson(i), sep: ',' };
  const edges = { count: g.edgeCount, renderAt: (i: number) => g.edgeJson(i), sep: ',' };
  const parts = [`${head},"nodes":[`, nodes, '],"edges":[', edges, ']}'];
  return Readable.from(slicedBody(parts), { highWaterMark: 1 });
}

function dotBody(g: GraphCapture): Readable {
  const nodes = { count: g.nodeCount, renderAt: (i: number) => dotNode(g.node(i)), sep: '\n' };
  const edges = { count: g.edgeCount, renderAt: (i: number) => dotEdge(g.edge(i)), sep: '\n' };
  const parts = [`${dotHead(g)}\n`, nodes, g.nodeCount > 0 ? '\n' : '', edges, g.edgeCount > 0 ? '\n' : '', DOT_TAIL];
  return Readable.from(slicedBody(parts), { highWaterMark: 1 });
}

export async function graphRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const hub = app.deadlockd.hub;
  const GraphQuery = graphQuery(app.deadlockd.config.maxGraphNodes);
  // the capture in slices, while the namespace holds its changes (Namespace.read)
  const capture = (namespace: string, q: { blocked?: boolean | undefined; limit?: number | undefined }): Promise<GraphCapture> => {
    const ns = hub.namespace(namespace);
    return ns.read(captureGraphSteps(ns.engine, { blockedOnly: q.blocked, maxNodes: q.limit }));
  };

  r.get('/graph', {
    schema: {
      tags: ['graph'],
      operationId: 'getGraph',
      summary: 'The live graph (graphology JSON)',
      description: 'At most `limit` nodes (default and cap --max-graph-nodes); `attributes.truncated` is true when the graph had more.',
      querystring: GraphQuery,
      response: { 200: GraphExport, 400: ErrorBody, 401: ErrorBody },
    },
  }, async (request, reply) => {
    const g = await capture(request.namespace, request.query);
    // a stream is not passed through the response schema (untyped reply): GraphExport documents the body, captureGraph's types keep it
    return (reply as FastifyReply).type('application/json; charset=utf-8').send(jsonBody(g));
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
    const g = await capture(request.namespace, request.query);
    return (reply as FastifyReply).type('text/vnd.graphviz; charset=utf-8').send(dotBody(g));
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
