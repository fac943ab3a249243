// The operators' REST API: /v1 routes with zod schemas, and the OpenAPI
// document built from those schemas, served offline by Swagger UI at /docs
// (the JSON at /docs/json). Encapsulated: the zod compilers apply to these
// routes only, never to other plugins' routes.
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { PROTOCOL_VERSION } from '@deadlockd/proto';
import { deadlockRoutes } from './deadlocks.js';
import { graphRoutes } from './graph.js';
import { hazardRoutes } from './hazards.js';
import { liveRoutes } from './live.js';
import { restErrors } from './errors.js';
import { openApiWithComponents } from './openapi-components.js';

const DOCS_PREFIX = '/docs';

export async function restApi(app: FastifyInstance): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const authOn = app.deadlockd.tokens.enabled;

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'deadlockd',
        version: 'v1',
        description:
          'Operators\' API of deadlockd, the wait-for-graph deadlock detector. Every response is scoped to the namespace of the caller\'s token ' +
          '(`default` when auth is off). SDKs speak the WebSocket protocol at `/v1/stream` (JSON Schema at `/v1/schema/wire.json`, ' +
          `protocol version ${PROTOCOL_VERSION}); \`/metrics\`, \`/healthz\` and \`/readyz\` sit beside this API.`,
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'a token from --tokens / --tokens-file' },
          queryToken: { type: 'apiKey', in: 'query', name: 'token', description: 'the same token as a query parameter (browsers, WebSockets)' },
        },
      },
      ...(authOn ? { security: [{ bearer: [] }, { queryToken: [] }] } : {}),
      tags: [
        { name: 'deadlocks', description: 'current cycles and the history, with readable reports' },
        { name: 'graph', description: 'the live wait-for graph, owners and resources' },
        { name: 'daemon', description: 'clients, statistics, protocol schema' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: openApiWithComponents,
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });

  await app.register(
    async (v1) => {
      restErrors(v1);
      await v1.register(deadlockRoutes);
      await v1.register(graphRoutes);
      await v1.register(hazardRoutes);
      await v1.register(liveRoutes);
    },
    { prefix: '/v1' },
  );
}
