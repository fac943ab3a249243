// The OpenAPI document (/docs/json) as a client generator reads it: every operation has its own
// operationId, the responses are named component schemas, and every $ref resolves.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/app.js';
import { resolveConfig } from '../src/config.js';

interface Operation {
  operationId?: string;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { description?: string; properties?: Record<string, { description?: string }> }> };
}

const REF = '#/components/schemas/';

/** Every `$ref` in a part of the document. */
function refsIn(value: unknown): string[] {
  const refs: string[] = [];
  JSON.stringify(value, (key, v: unknown) => {
    if (key === '$ref' && typeof v === 'string') refs.push(v);
    return v;
  });
  return refs;
}

describe('OpenAPI document: operationIds and named component schemas', () => {
  let app: FastifyInstance;
  let doc: Doc;
  before(async () => {
    app = buildServer(resolveConfig({ port: 0, logLevel: 'silent', sweepIntervalMs: 0 }));
    const res = await app.inject('/docs/json');
    assert.equal(res.statusCode, 200);
    doc = res.json() as Doc;
  });
  after(() => app.close());

  const operations = () => Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, op })));

  it('every operation has an operationId, each a distinct identifier', () => {
    const ops = operations();
    assert.ok(ops.length >= 15, `${ops.length} operations`);
    const missing = ops.filter((o) => !o.op.operationId).map((o) => o.where);
    assert.deepEqual(missing, [], 'operations without an operationId');
    const ids = ops.map((o) => o.op.operationId!);
    assert.equal(new Set(ids).size, ids.length, `duplicate operationIds: ${ids.join(', ')}`);
    for (const id of ids) assert.match(id, /^[a-z][A-Za-z0-9]*$/, id);
    assert.equal(doc.paths['/v1/deadlocks/{id}']?.['get']?.operationId, 'getDeadlock');
  });

  it('the JSON responses are named components, every $ref resolves, and no component is unused', () => {
    const schemas = doc.components.schemas;
    for (const name of ['Error', 'DeadlockEntry', 'DeadlockList', 'DeadlockGroupList', 'CycleList', 'DeadlockReport', 'Hazard', 'GraphExport', 'OwnerDetail', 'ResourceDetail', 'ClientList', 'Stats']) {
      assert.ok(schemas[name], `components.schemas.${name}`);
    }
    const ok = (path: string, status = '200') => refsIn(doc.paths[path]?.['get']?.responses[status]?.content?.['application/json']?.schema);
    // the history, or with ?group=signature its groups
    assert.deepEqual(ok('/v1/deadlocks'), [`${REF}DeadlockList`, `${REF}DeadlockGroupList`]);
    assert.deepEqual(ok('/v1/deadlocks/{id}', '404'), [`${REF}Error`]);
    assert.deepEqual(ok('/v1/stats'), [`${REF}Stats`]);
    // components refer to each other: an entry's report is the DeadlockReport component
    assert.ok(refsIn(schemas['DeadlockEntry']).includes(`${REF}DeadlockReport`));
    const all = refsIn(doc);
    for (const ref of all) {
      assert.ok(ref.startsWith(REF) && schemas[ref.slice(REF.length)], `${ref} resolves`);
    }
    const used = new Set(all.map((r) => r.slice(REF.length)));
    assert.deepEqual(Object.keys(schemas).filter((n) => !used.has(n)), [], 'unused components');
  });

  it('the schemas keep their descriptions', () => {
    assert.match(doc.components.schemas['DeadlockEntry']?.properties?.['status']?.description ?? '', /confirming: asking the clients/);
  });
});
