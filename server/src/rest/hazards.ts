// Hazards: deadlocks waiting for load (lock-order inversions, nested pool
// checkouts), deduplicated, with every place they were seen. Namespace-scoped.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Hazard, HazardKind } from '@deadlockd/proto';
import { notFound } from './errors.js';
import { ErrorBody } from './schemas.js';

const HazardList = z.object({ hazards: z.array(Hazard) });

export async function hazardRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const hub = app.deadlockd.hub;

  r.get('/hazards', {
    schema: {
      tags: ['deadlocks'],
      operationId: 'listHazards',
      summary: 'Deadlock hazards',
      description: 'Lock-order inversions and nested pool checkouts seen so far, newest first: deadlocks that have not happened yet.',
      querystring: z.object({ kind: HazardKind.optional() }),
      response: { 200: HazardList, 400: ErrorBody, 401: ErrorBody },
    },
  }, async (request) => {
    const all = hub.namespace(request.namespace).engine.lockOrder.list();
    return { hazards: request.query.kind ? all.filter((h) => h.kind === request.query.kind) : all };
  });

  r.get('/hazards/:id', {
    schema: {
      tags: ['deadlocks'],
      operationId: 'getHazard',
      summary: 'One hazard',
      params: z.object({ id: z.string().min(1) }),
      response: { 200: Hazard, 401: ErrorBody, 404: ErrorBody },
    },
  }, async (request, reply) => {
    const h = hub.namespace(request.namespace).engine.lockOrder.get(request.params.id);
    return h ?? notFound(reply, `hazard '${request.params.id}'`);
  });
}
