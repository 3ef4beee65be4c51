/**
 * What request logs may hold. Query parameters that authenticate a request (V1 `Signature`, `AccessKeyId`,
 * STS `SecurityToken`) are replaced by `***`, whatever their case or encoding.
 */
import type { FastifyRequest } from 'fastify';

const SECRET_PARAMS = new Set(['signature', 'accesskeyid', 'securitytoken', 'accesskeysecret']);

function decoded(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    return SECRET_PARAMS.has(decoded(key).trim().toLowerCase()) ? `${key}=***` : pair;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** Fastify's `logger.serializers`: the default request fields, with the URL redacted. */
export const logSerializers = {
  req(req: FastifyRequest) {
    return { method: req.method, url: redactUrl(req.url ?? ''), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
  },
};

/** True when the request failed because its client went away (not a server fault). */
export function clientAborted(req: FastifyRequest, e: unknown): boolean {
  const raw = req.raw;
  if (raw.complete) return false;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return raw.destroyed || raw.socket?.destroyed === true || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (e as Error | undefined)?.message === 'aborted';
}
