/**
 * Authentication for the data endpoints (disk content, uploads, downloads): the same ACS3-HMAC-SHA256
 * signature as the RPC gateway, over method, path, query and signed headers, with the body left unsigned
 * (`x-acs-content-sha256: UNSIGNED-PAYLOAD`) because it streams.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, apiError } from '../domain/errors.ts';
import { authenticate, type AuthPorts } from './ecs/auth.ts';
import { newRequestId, renderError } from './ecs/render.ts';

export async function authenticateData(req: FastifyRequest, ports: AuthPorts): Promise<string> {
  const url = new URL(req.raw.url ?? '/', 'http://local');
  const query = [...url.searchParams.entries()];
  return authenticate(
    { method: req.method, path: url.pathname, headers: req.headers, query, form: [], rawBody: Buffer.alloc(0), params: Object.fromEntries(query) },
    ports,
    { allowUnsignedPayload: true },
  );
}

/** Sends an error in the gateway's JSON shape. */
export function sendError(reply: FastifyReply, e: unknown): void {
  const err = e instanceof ApiError ? e : apiError('InternalError');
  if (!(e instanceof ApiError)) reply.log.error({ err: e }, 'unhandled error');
  const out = renderError(err, newRequestId(), 'ecs.aliyuncs.com', 'JSON');
  reply.code(out.status).header('content-type', out.contentType).send(out.body);
}
