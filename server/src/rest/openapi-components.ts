// Named component schemas of the OpenAPI document (/docs/json → components.schemas): the
// responses and the main objects inside them are `$ref`s to a name, so a generated client gets
// types like DeadlockEntry instead of anonymous inline objects.
//
// The names go into zod's global registry, where the schemas' `.describe()` texts already are:
// fastify-type-provider-zod reads names and descriptions from one registry, and a separate one
// would drop every description from the document. Added once, when this module loads.
import { z } from 'zod';
import { createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { DeadlockReport, Hazard } from '@deadlockd/proto';
import { ClientList, CycleList, DeadlockEntry, DeadlockGroupList, DeadlockList, ErrorBody, GraphExport, LongWaitList, OwnerDetail, ResourceDetail, Stats } from './schemas.js';

const NAMED = {
  Error: ErrorBody,
  DeadlockEntry,
  DeadlockList,
  DeadlockGroupList,
  CycleList,
  DeadlockReport,
  Hazard,
  GraphExport,
  OwnerDetail,
  ResourceDetail,
  LongWaitList,
  ClientList,
  Stats,
};

for (const [id, schema] of Object.entries(NAMED)) z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), id });

const SCHEMA_REF = '#/components/schemas/';
const withComponents = createJsonSchemaTransformObject({});

/**
 * @fastify/swagger's `transformObject`: the document with the named components. The library
 * emits an input and an output variant of every name (`XInput`, `X`); only the ones a route
 * uses, directly or inside another component, are kept.
 */
export const openApiWithComponents: typeof withComponents = (document) => {
  const openapi = withComponents(document) as { paths?: unknown; components?: { schemas?: Record<string, unknown> } };
  const schemas = openapi.components?.schemas;
  if (!schemas) return openapi as ReturnType<typeof withComponents>;
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    JSON.stringify(value, (key, v: unknown) => {
      if (key === '$ref' && typeof v === 'string' && v.startsWith(SCHEMA_REF)) {
        const name = v.slice(SCHEMA_REF.length);
        if (!used.has(name)) {
          used.add(name);
          visit(schemas[name]);
        }
      }
      return v;
    });
  };
  visit(openapi.paths);
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
  return openapi as ReturnType<typeof withComponents>;
};
