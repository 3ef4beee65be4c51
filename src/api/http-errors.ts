/**
 * Errors the HTTP layer raises before any action runs (unknown paths, oversized or malformed requests)
 * still answer in the Alibaba error shape with a RequestId.
 */
import type { FastifyInstance, FastifyError } from 'fastify';
import type { Socket } from 'node:net';
import { ApiError, apiError } from '../domain/errors.ts';
import { newRequestId, renderError } from './ecs/render.ts';

export const MAX_HEADER_BYTES = 16 * 1024;

function asApiError(e: FastifyError | Error): ApiError {
  if (e instanceof ApiError) return e;
  const status = (e as FastifyError).statusCode ?? 500;
  if (status === 413) return apiError('Request.BodyTooLarge');
  if (status >= 400 && status < 500) return apiError('Request.Malformed', e.message);
  return apiError('InternalError');
}

export function registerHttpErrors(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    const out = renderError(apiError('InvalidAction.NotFound'), newRequestId(), 'ecs.aliyuncs.com', 'JSON');
    reply.code(out.status).header('content-type', out.contentType).send(out.body);
  });
  app.setErrorHandler((e, req, reply) => {
    const err = asApiError(e as Error);
    if (err.status >= 500) req.log.error({ err: e }, 'unhandled error');
    const out = renderError(err, newRequestId(), 'ecs.aliyuncs.com', 'JSON');
    reply.code(out.status).header('content-type', out.contentType).send(out.body);
  });
}

/** Node's HTTP parser rejects some requests before Fastify sees them; answer those in the same shape. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) return;
  const e = err.code === 'HPE_HEADER_OVERFLOW' ? apiError('Request.HeaderTooLarge', MAX_HEADER_BYTES) : apiError('Request.Malformed', err.code ?? 'bad request');
  const out = renderError(e, newRequestId(), 'ecs.aliyuncs.com', 'JSON');
  socket.end(`HTTP/1.1 ${out.status} ${out.status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: ${out.contentType}\r\nContent-Length: ${Buffer.byteLength(out.body)}\r\nConnection: close\r\n\r\n${out.body}`);
}
