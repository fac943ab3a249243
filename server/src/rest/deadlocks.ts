// Deadlocks: the current cycles and the bounded history, each with its report
// as JSON and as text. Only the caller's namespace is ever visible: an id
// from another namespace is simply not found.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { signatureOf, type DeadlockGroup, type HistoryEntry } from '../history.js';
import type { CurrentDeadlock, Namespace } from '../namespace.js';
import { deadlockSvg } from './deadlock-picture.js';
import { notFound } from './errors.js';
import { CycleList, DeadlockEntry, DeadlockGroupList, DeadlockList, DeadlockParams, ErrorBody, historyQuery } from './schemas.js';

type DeadlockGroupBody = z.infer<typeof DeadlockGroupList>['groups'][number];

const services = (e: { report: { members: { service: string }[] } }): string[] => [...new Set(e.report.members.map((m) => m.service))].sort();

function fromHistory(e: HistoryEntry): DeadlockEntry {
  const { id, namespace, detectedAt, status, signature, report } = e;
  return { id, namespace, detectedAt, status, resolvedAt: e.resolvedAt ?? null, signature, services: services(e), report };
}

/** A deadlock open in the book: its state there. */
function fromCurrent(ns: Namespace, { deadlock: d, status }: CurrentDeadlock): DeadlockEntry {
  return { id: d.id, namespace: ns.name, detectedAt: d.detectedAt, status, resolvedAt: null, signature: signatureOf(d.report), services: services(d), report: d.report };
}

function groupOf(ns: Namespace, g: DeadlockGroup): DeadlockGroupBody {
  const latest = ns.history.get(g.latestId);
  return { ...g, latest: latest ? fromHistory(latest) : null };
}

function find(ns: Namespace, id: string): DeadlockEntry | undefined {
  const open = ns.current().find((x) => x.deadlock.id === id);
  if (open) return fromCurrent(ns, open);
  const h = ns.history.get(id);
  return h ? fromHistory(h) : undefined;
}

const errors = { 401: ErrorBody, 404: ErrorBody };

export async function deadlockRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const hub = app.deadlockd.hub;
  const maxLimit = app.deadlockd.config.maxHistoryLimit;

  r.get('/cycles', {
    schema: {
      tags: ['deadlocks'],
      operationId: 'listCurrentDeadlocks',
      summary: 'Current deadlocks',
      description: 'Deadlocks in the graph right now: being confirmed with the clients, aborting (victim told), or unresolvable. Newest first.',
      response: { 200: CycleList, 401: ErrorBody },
    },
  }, async (request) => {
    const ns = hub.namespace(request.namespace);
    const cycles = ns
      .current()
      .map((c) => fromCurrent(ns, c))
      .sort((a, b) => b.detectedAt - a.detectedAt);
    return { cycles };
  });

  r.get('/deadlocks', {
    schema: {
      tags: ['deadlocks'],
      operationId: 'listDeadlocks',
      summary: 'Deadlock history',
      description:
        'Deadlocks reported in this namespace, newest first, from the history file (kept across restarts): at most --history-size ' +
        'of them, --max-history-bytes of reports, none older than --history-max-age-ms. ' +
        'With `group=signature`, one entry per recurring deadlock pattern instead (`groups`), the most recently seen first.',
      querystring: historyQuery(maxLimit),
      response: { 200: z.union([DeadlockList, DeadlockGroupList]), 400: ErrorBody, 401: ErrorBody },
    },
  }, async (request) => {
    const { since, limit, service, signature, group } = request.query;
    const ns = hub.namespace(request.namespace);
    const q = { since, service, signature, limit };
    if (group === 'signature') {
      const { total, groups } = ns.history.groups(q);
      return { total, groups: groups.map((g) => groupOf(ns, g)) };
    }
    const { total, entries } = ns.history.query(q);
    return { total, deadlocks: entries.map(fromHistory) };
  });

  r.get('/deadlocks/:id', {
    schema: {
      tags: ['deadlocks'],
      operationId: 'getDeadlock',
      summary: 'One deadlock (JSON report)',
      params: DeadlockParams,
      response: { 200: DeadlockEntry, ...errors },
    },
  }, async (request, reply) => {
    const e = find(hub.namespace(request.namespace), request.params.id);
    return e ?? notFound(reply, `deadlock ${request.params.id}`);
  });

  r.get('/deadlocks/:id/text', {
    schema: {
      tags: ['deadlocks'],
      operationId: 'getDeadlockText',
      summary: 'One deadlock (readable text report)',
      description: 'One line per wait-for edge, each member\'s holds and waits with durations and call sites, the victim and why it was chosen.',
      params: DeadlockParams,
      response: { 200: { description: 'the report', content: { 'text/plain': { schema: z.string() } } }, ...errors },
    },
  }, async (request, reply) => {
    const e = find(hub.namespace(request.namespace), request.params.id);
    if (!e) return notFound(reply, `deadlock ${request.params.id}`);
    return reply.type('text/plain; charset=utf-8').send(e.report.text.endsWith('\n') ? e.report.text : `${e.report.text}\n`);
  });

  r.get('/deadlocks/:id/svg', {
    schema: {
      tags: ['deadlocks'],
      operationId: 'getDeadlockSvg',
      summary: 'One deadlock (drawn, SVG)',
      description: 'The members on a circle in cycle order; each edge "A waits for R held by B" drawn A ┄▸ R ─▸ B; the victim outlined. The same picture the dashboard shows.',
      params: DeadlockParams,
      response: { 200: { description: 'the picture', content: { 'image/svg+xml': { schema: z.string() } } }, ...errors },
    },
  }, async (request, reply) => {
    const e = find(hub.namespace(request.namespace), request.params.id);
    if (!e) return notFound(reply, `deadlock ${request.params.id}`);
    return reply.type('image/svg+xml; charset=utf-8').send(await deadlockSvg(e.report));
  });
}
