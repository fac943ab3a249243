// zod schemas of every REST response (and query). They validate what we send
// (fastify-type-provider-zod serializes through them) and become the OpenAPI
// document, so they follow the shapes of engine/export.ts and history.ts.
import { z } from 'zod';
import { DeadlockReport, LockMode } from '@deadlockd/proto';
import { HTTP_ERROR_CODES } from './errors.js';

export const ErrorBody = z.object({
  code: z.enum(HTTP_ERROR_CODES),
  message: z.string(),
});

const Millis = z.number().describe('epoch milliseconds');
const Shape = { mode: LockMode.optional(), units: z.number().int().optional() };

// ---- deadlocks --------------------------------------------------------------

const DeadlockStatus = z
  .enum(['confirming', 'aborting', 'reordering', 'unresolvable', 'resolved', 'interrupted'])
  .describe(
    'confirming: asking the clients whether the waits still pend; aborting: victim told; reordering: a client asked to reorder a wait queue; unresolvable: no member can be aborted; resolved: over; ' +
      'interrupted: it was open when the daemon stopped (what is still blocked comes back with the clients\' snapshots as a new deadlock)',
  );

export const DeadlockEntry = z.object({
  id: z.string(),
  namespace: z.string(),
  detectedAt: Millis,
  status: DeadlockStatus,
  resolvedAt: Millis.nullable(),
  signature: z.string().describe('the same for every recurrence of this deadlock pattern (`DS-…`): GET /v1/deadlocks?group=signature groups by it'),
  /** distinct services of the members, for filtering at a glance */
  services: z.array(z.string()),
  report: DeadlockReport,
});
export type DeadlockEntry = z.infer<typeof DeadlockEntry>;

export const DeadlockList = z.object({
  /** entries matching the filters before `limit` was applied */
  total: z.number().int(),
  deadlocks: z.array(DeadlockEntry),
});

export const CycleList = z.object({ cycles: z.array(DeadlockEntry) });

const DeadlockGroup = z.object({
  signature: z.string(),
  count: z.number().int().describe('deadlocks with this signature so far (also those the history no longer keeps)'),
  firstSeen: Millis,
  lastSeen: Millis,
  pattern: z.array(z.string()).describe("the wait-for edges in class terms: waiter's service and call site, the lock class and mode, the holder's service"),
  services: z.array(z.string()),
  latestId: z.string().describe('the newest deadlock of the group'),
  latest: DeadlockEntry.nullable().describe('that deadlock, null when the history no longer keeps it'),
});

export const DeadlockGroupList = z.object({
  /** groups matching the filters before `limit` was applied */
  total: z.number().int(),
  groups: z.array(DeadlockGroup),
});

/** `since`: epoch milliseconds or an ISO 8601 date; returned as epoch ms. */
const Since = z
  .string()
  .transform((raw, ctx) => {
    const ms = /^\d+$/.test(raw) ? Number(raw) : /^\d{4}-\d\d-\d\d/.test(raw) ? Date.parse(raw) : NaN;
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: '`since` must be epoch milliseconds or an ISO 8601 date' });
      return z.NEVER;
    }
    return ms;
  })
  .describe('only deadlocks detected at or after this time: epoch milliseconds or an ISO 8601 date');

export function historyQuery(maxLimit: number) {
  return z.object({
    since: Since.optional(),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(maxLimit)
      .default(Math.min(100, maxLimit))
      .describe(`most entries returned, newest first (default 100, at most ${maxLimit})`),
    service: z.string().min(1).optional().describe('only deadlocks with a member from this service'),
    signature: z.string().min(1).optional().describe('only the recurrences of this signature'),
    group: z
      .enum(['signature'])
      .optional()
      .describe('signature: one entry per signature (count, first and last seen, the pattern, the latest deadlock), the most recently seen first; `since` then keeps groups last seen at or after it'),
  });
}

export const DeadlockParams = z.object({ id: z.string().min(1) });

// ---- graph (graphology's serialized format) --------------------------------

const OwnerNode = z.object({
  kind: z.literal('owner'),
  label: z.string(),
  owner: z.string(),
  client: z.string(),
  service: z.string(),
  priority: z.number(),
  abortable: z.boolean(),
  startedAt: Millis,
  waiting: z.boolean(),
  deadlocks: z.array(z.string()).describe('ids of the active deadlocks this owner is a member of'),
});

const ResourceNode = z.object({
  kind: z.literal('resource'),
  label: z.string(),
  resource: z.string().describe('the key: `g:<name>` shared, `<client>:<name>` local, `task:<client>/<owner>` end of a task'),
  type: z.enum(['mutex', 'rwlock', 'semaphore', 'task']),
  scope: z.enum(['local', 'global']),
  capacity: z.number().nullable(),
  held: z.number(),
  queued: z.number(),
  deadlocks: z.array(z.string()),
});

const WaitEdge = z.object({
  kind: z.literal('waits'),
  waitId: z.string(),
  ...Shape,
  since: Millis,
  aborting: z.boolean(),
  stack: z.string().optional(),
});

const HoldEdge = z.object({ kind: z.literal('holds'), ...Shape, since: Millis });

export const GraphExport = z
  .object({
    options: z.object({ type: z.string(), multi: z.boolean(), allowSelfLoops: z.boolean() }),
    attributes: z.record(z.string(), z.unknown()),
    nodes: z.array(z.object({ key: z.string(), attributes: z.discriminatedUnion('kind', [OwnerNode, ResourceNode]) })),
    edges: z.array(
      z.object({
        key: z.string().optional(),
        source: z.string(),
        target: z.string(),
        attributes: z.discriminatedUnion('kind', [WaitEdge, HoldEdge]),
        undirected: z.boolean().optional(),
      }),
    ),
  })
  .describe('graphology `graph.export()` of a MultiDirectedGraph: owner nodes `o:<client>/<owner>`, resource nodes `r:<key>`; edges owner→resource `waits`, resource→owner `holds`');

/** `limit` defaults to and may not exceed --max-graph-nodes. */
export const graphQuery = (maxNodes: number) =>
  z.object({
    blocked: z
      .enum(['true', 'false', '1', '0'])
      .optional()
      .transform((v) => v === 'true' || v === '1')
      .describe('true: only the blocked part (waiting owners, what they wait for, its holders)'),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(maxNodes)
      .default(maxNodes)
      .describe(`most nodes returned (at most --max-graph-nodes, ${maxNodes}); the graph's attribute \`truncated\` is true when more were left out`),
  });

// ---- owners, resources, clients, stats ---------------------------------------

export const OwnerDetail = OwnerNode.extend({
  holds: z.array(z.object({ resource: z.string(), label: z.string(), ...Shape, since: Millis })),
  waits: z.array(
    z.object({
      waitId: z.string(),
      resource: z.string(),
      label: z.string(),
      ...Shape,
      since: Millis,
      aborting: z.boolean(),
      stack: z.string().optional(),
    }),
  ),
});

export const ResourceDetail = ResourceNode.extend({
  fifo: z.boolean(),
  holders: z.array(z.object({ owner: z.string(), client: z.string(), name: z.string(), ...Shape, since: Millis })),
  queue: z
    .array(z.object({ waitId: z.string(), owner: z.string(), client: z.string(), name: z.string(), ...Shape, since: Millis }))
    .describe('pending waits in arrival order (the grant order for FIFO resources)'),
});

const ClientInfo = z.object({
  id: z.string().describe('session id (the `<client>` of owner and resource keys)'),
  service: z.string(),
  instance: z.string(),
  host: z.string().optional().describe('the machine the client runs on (hello.host)'),
  pid: z.number().int().optional().describe("the client's process id (hello.pid)"),
  connectedAt: Millis,
  connected: z.boolean().describe('false while the client is in its disconnect grace period'),
});
export const ClientList = z.object({ clients: z.array(ClientInfo) });

const ResolverStats = z.object({
  resolved: z.number(),
  unresolvable: z.number(),
  abortsSent: z.number(),
  confirmRoundsStarted: z.number(),
  confirmTimeouts: z.number(),
  droppedUnconfirmed: z.number(),
  vanished: z.number(),
  openRounds: z.number(),
});

export const Stats = z.object({
  namespace: z.string(),
  clients: z.number(),
  connectedClients: z.number(),
  sweeps: z.number(),
  graph: z.object({ owners: z.number(), resources: z.number(), holds: z.number(), waits: z.number(), activeDeadlocks: z.number() }),
  resolver: ResolverStats,
});

export const WireSchema = z.record(z.string(), z.unknown()).describe('JSON Schema (draft 2020-12) of every wire frame');

// ---- long waits ---------------------------------------------------------------

export const LongWaitsQuery = z.object({
  olderThanMs: z.coerce.number().int().nonnegative().optional().describe('only waits pending at least this long (default 1000)'),
  minAgeMs: z.coerce.number().int().nonnegative().optional().describe('the same as olderThanMs (its earlier name)'),
  limit: z.coerce.number().int().min(1).max(10_000).default(100).describe('at most this many, oldest first (default 100, cap 10000)'),
});

const TraceIds = z.object({ traceId: z.string(), spanId: z.string() });
const WaitOwner = {
  owner: z.string(),
  client: z.string(),
  name: z.string(),
  service: z.string(),
  instance: z.string().optional(),
  host: z.string().optional(),
  pid: z.number().int().optional(),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  trace: TraceIds.optional().describe('the span active when the task started'),
};
const Blocker = z.object({
  ...WaitOwner,
  how: z.enum(['holds', 'queued-ahead']),
  ...Shape,
  since: Millis,
});
const ChainStep = Blocker.extend({
  waitsFor: z.object({ waitId: z.string(), resource: z.string(), label: z.string(), since: Millis }).optional(),
});

export const LongWaitList = z.object({
  /** how many waits are at least olderThanMs old (the list may be cut at limit) */
  total: z.number().int(),
  waits: z.array(
    z.object({
      waitId: z.string(),
      ...WaitOwner,
      resource: z.string(),
      label: z.string(),
      ...Shape,
      since: Millis,
      ageMs: z.number(),
      inDeadlock: z.boolean().describe('a member wait of a deadlock the daemon found'),
      stack: z.string().optional(),
      waitTrace: TraceIds.optional().describe('the span the wait began in'),
      blockers: z.array(Blocker).describe('the direct blockers (pg_blocking_pids): holders of a conflicting share, then waits queued ahead; at most 10'),
      blockersTotal: z.number().int(),
      chain: z.array(ChainStep).describe('who blocks whom from the first blocker on, to the owner at the head of the chain'),
      chainEnd: z.enum(['head', 'cycle', 'cut', 'none']).describe('head: the last step waits for nothing; cycle: back into the chain (a deadlock); cut: --max-wait-chain; none: no blocker'),
    }),
  ),
});
