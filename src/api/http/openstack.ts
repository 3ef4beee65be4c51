/** Plumbing the OpenStack surfaces (Keystone, Glance) share: where this server is, status titles, token auth. */
import http from 'node:http';
import type { FastifyRequest } from 'fastify';

/** The server's own base URL as the client reached it (catalog URLs and version links point here). */
export function baseUrl(req: FastifyRequest): string {
  const fwd = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(fwd) ? fwd[0] : fwd) ?? 'http';
  return `${proto === 'https' ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}`;
}

export function statusTitle(status: number): string {
  return http.STATUS_CODES[status] ?? 'Error';
}

export const IDENTITY_PATH = '/identity';
export const IMAGE_PATH = '/image';

/** `WWW-Authenticate` on a 401: where to get a token. */
export function wwwAuthenticate(req: FastifyRequest): string {
  return `Keystone uri="${baseUrl(req)}${IDENTITY_PATH}"`;
}

export function headerValue(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
