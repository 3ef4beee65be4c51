/** Plumbing the OpenStack surfaces (Keystone, Glance) share: where this server is, status titles, token auth. */
import http from 'node:http';
import type { FastifyRequest } from 'fastify';
import { apiError, type ApiError } from '../../domain/errors.ts';
import type { Surface } from './surfaces.ts';

/** The server's own base URL as the client reached it (catalog URLs and version links point here). */
export function baseUrl(req: FastifyRequest): string {
  const fwd = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(fwd) ? fwd[0] : fwd) ?? 'http';
  return `${proto === 'https' ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}`;
}

/** webob's titles where Node's reason phrases have since changed (RFC 7231 and later renamed them). */
const WEBOB_TITLES: Record<number, string> = { 413: 'Request Entity Too Large', 414: 'Request-URI Too Long', 416: 'Requested Range Not Satisfiable' };

/** An error's title as Glance and Keystone (webob) spell it. */
export function statusTitle(status: number): string {
  return WEBOB_TITLES[status] ?? http.STATUS_CODES[status] ?? 'Error';
}

/** Glance's timestamps: ISO 8601 to the second (`2026-11-23T06:51:35Z`). */
/**
 * Glance's paging links of a listing at `path`: `first` repeats the query without its marker, and `next`, given only
 * when the page came back full, adds the marker of its last item.
 */
export function pageLinks(path: string, query: [string, string][], page: { id: string }[], pageSize: number): { first: string; next?: string } {
  const rest = query.filter(([k]) => k !== 'marker');
  const qs = (all: [string, string][]) => (all.length ? `?${all.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}` : '');
  const last = page.at(-1);
  return { first: `${path}${qs(rest)}`, ...(last && page.length === pageSize ? { next: `${path}${qs([...rest, ['marker', last.id]])}` } : {}) };
}

export const glanceTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const IDENTITY_PATH = '/identity';
export const IMAGE_PATH = '/image';

/** `WWW-Authenticate` on a 401: where to get a token. */
export function wwwAuthenticate(req: FastifyRequest): string {
  return `Keystone uri="${baseUrl(req)}${IDENTITY_PATH}"`;
}

/**
 * An OpenStack surface under `prefix`: unknown paths are OpenStack.NotFound, a 401 says where to get a token,
 * and `body` gives the service's own error JSON (Keystone and Glance shape it differently).
 */
export function openstackSurface(name: string, prefix: string, body: (err: ApiError) => unknown): Surface {
  return {
    name,
    prefixes: [prefix],
    notFound: (req) => apiError('OpenStack.NotFound', `The resource could not be found: ${req.method} ${req.url.split('?', 1)[0]}`),
    sendError(e, req, reply) {
      // The per-account limit on heavy requests, as OpenStack services behind a rate limiter answer it.
      const err = e.code === 'Throttling.User' ? apiError('OpenStack.TooManyRequests') : e;
      if (err.status === 401) reply.header('www-authenticate', wwwAuthenticate(req));
      if (err.status === 429) reply.header('retry-after', '1');
      return reply.code(err.status).header('content-type', 'application/json').send(JSON.stringify(body(err)));
    },
  };
}
