/**
 * The one error path. Routes throw; the error (mapped to an ApiError) is rendered by the surface the request's
 * path belongs to, in that surface's wire shape. Framework errors (malformed URL, oversized body, unknown
 * path) take the same path, so every answer has its surface's shape.
 */
import crypto from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, apiError } from '../../domain/errors.ts';
import { toApiError } from '../../services/errors.ts';
import { clientAborted } from './logging.ts';

export interface Surface {
  name: string;
  /** Path prefixes this surface owns (the default surface owns every other path). */
  prefixes: readonly string[];
  /** What an unknown path under one of the prefixes answers. */
  notFound(req: FastifyRequest): ApiError;
  /** Sends `err` in the surface's shape. */
  sendError(err: ApiError, req: FastifyRequest, reply: FastifyReply): FastifyReply;
}

export const MAX_HEADER_BYTES = 16 * 1024;

export function newRequestId(): string {
  return crypto.randomUUID().toUpperCase();
}

function owns(surface: Surface, url: string): boolean {
  const pathname = url.split('?', 1)[0];
  return surface.prefixes.some((p) => pathname === p || pathname.startsWith(p.endsWith('/') ? p : p + '/'));
}

/** Framework errors as API errors: 413 and 431 keep their meaning, other 4xx are malformed requests. */
function frameworkError(e: FastifyError): ApiError | undefined {
  const status = e.statusCode;
  if (status === 413) return apiError('Request.BodyTooLarge');
  if (status === 431) return apiError('Request.HeaderTooLarge', MAX_HEADER_BYTES);
  if (status !== undefined && status >= 400 && status < 500) return apiError('Request.Malformed', e.message);
  return undefined;
}

export interface ErrorPath {
  /** Fastify's `frameworkErrors` option: URLs rejected before routing. */
  frameworkErrors(e: FastifyError, req: FastifyRequest, reply: FastifyReply): void;
  /** Installs the error and not-found handlers on the root instance (every scope inherits them). */
  install(app: FastifyInstance): void;
}

export function errorPath(surfaces: Surface[], fallback: Surface): ErrorPath {
  const surfaceOf = (req: FastifyRequest) => surfaces.find((s) => owns(s, req.url)) ?? fallback;
  const send = (e: unknown, req: FastifyRequest, reply: FastifyReply) => {
    // A client that hung up mid-request is its own doing: logged at info, answered (to nobody) as a 400.
    const aborted = !(e instanceof ApiError) && clientAborted(req, e);
    if (aborted) req.log.info({ reason: (e as Error)?.message }, 'client aborted the request');
    const err = aborted ? apiError('Request.Malformed', 'the client closed the connection')
      : e instanceof ApiError ? e : (frameworkError(e as FastifyError) ?? toApiError(e));
    if (err.status >= 500) req.log.error({ err: e }, 'unhandled error');
    // An upload the handler never read is drained, so the answer reaches the client.
    if (!req.raw.readableEnded) req.raw.resume();
    return surfaceOf(req).sendError(err, req, reply);
  };
  return {
    frameworkErrors: (e, req, reply) => void send(e, req, reply),
    install(app) {
      app.setErrorHandler((e, req, reply) => send(e, req, reply));
      app.setNotFoundHandler((req, reply) => send(surfaceOf(req).notFound(req), req, reply));
    },
  };
}

/** Node's HTTP parser rejects some requests before Fastify sees them; they answer in the default surface's shape. */
export function clientErrorHandler(render: (err: ApiError) => { status: number; contentType: string; body: string }) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (!socket.writable) return;
    const e = err.code === 'HPE_HEADER_OVERFLOW' ? apiError('Request.HeaderTooLarge', MAX_HEADER_BYTES) : apiError('Request.Malformed', err.code ?? 'bad request');
    const out = render(e);
    const reason = out.status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
    socket.end(`HTTP/1.1 ${out.status} ${reason}\r\nContent-Type: ${out.contentType}\r\nContent-Length: ${Buffer.byteLength(out.body)}\r\nConnection: close\r\n\r\n${out.body}`);
  };
}
