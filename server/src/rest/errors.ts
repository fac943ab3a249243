// Error bodies of the REST API: {code, message}. 400 for bad parameters (zod
// validation), 404 for unknown ids and routes; 401 comes from the auth hook.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

type ErrorCode = 'NOT_FOUND' | 'BAD_REQUEST' | 'UNAUTHORIZED' | 'INTERNAL';

function sendError(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
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
