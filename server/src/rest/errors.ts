// Error bodies of every HTTP route (REST, /metrics, the dashboard): {code, message}.
// The one list of their codes is here; the OpenAPI document's ErrorBody is built
// from it. 400 for bad parameters (zod validation), 401 from the auth hook, 404
// for unknown ids and routes, 500 for a handler that failed, 503 when the
// dashboard's files are missing.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

export const HTTP_ERROR_CODES = ['NOT_FOUND', 'BAD_REQUEST', 'UNAUTHORIZED', 'INTERNAL', 'DASHBOARD_UNAVAILABLE'] as const;
type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

export function sendError(reply: FastifyReply, status: number, code: HttpErrorCode, message: string): FastifyReply {
  return reply.code(status).send({ code, message });
}

export const notFound = (reply: FastifyReply, what: string): FastifyReply => sendError(reply, 404, 'NOT_FOUND', `${what} not found`);

export function restErrors(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err.validation) return sendError(reply, 400, 'BAD_REQUEST', err.message);
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply, status, status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', err.message);
    request.log.error({ err }, 'REST handler failed');
    return sendError(reply, 500, 'INTERNAL', 'internal error');
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
}
