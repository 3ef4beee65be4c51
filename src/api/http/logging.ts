/**
 * What request logs may hold. Query parameters that authenticate a request (V1 `Signature`, `AccessKeyId`,
 * STS `SecurityToken`) are replaced by `***`, whatever their case or encoding.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';

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

/** `json`: one JSON object per line (for log shippers); `text`: one short line per entry, for a person at a terminal. */
export type LogFormat = 'json' | 'text';

/** Parameters that only sign a V1 request: a person reading a request line does not need them. */
const SIGNING_PARAMS = new Set(['signature', 'accesskeyid', 'securitytoken', 'signaturenonce', 'signaturemethod', 'signatureversion', 'timestamp', 'version', 'format']);

/** The ECS action of an RPC request: V3 names it in a header, V1 in the query string or the form body. */
export function actionOf(req: FastifyRequest): string | undefined {
  const header = req.headers['x-acs-action'];
  if (typeof header === 'string') return header;
  const query = req.query as Record<string, unknown> | undefined;
  if (typeof query?.Action === 'string') return query.Action;
  const body = req.body;
  if (Buffer.isBuffer(body) && body.length <= 64 * 1024 && String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return new URLSearchParams(body.toString('latin1')).get('Action') ?? undefined;
  }
  return undefined;
}

/** One entry per request, when it is answered (instead of Fastify's pair of "incoming" and "completed" entries). */
export function logEachRequest(app: FastifyInstance): void {
  app.addHook('onResponse', async (req, reply) => {
    const action = actionOf(req);
    req.log.info({ req, ...(action ? { action } : {}), res: { statusCode: reply.statusCode }, responseTime: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** The text form of one JSON log entry. Only fields the serializers already cleaned are shown. */
export function textLine(entry: Record<string, any>): string {
  const time = new Date(entry.time ?? Date.now()).toISOString().slice(11, 23);
  const level = entry.level > 30 ? ` ${LEVELS[entry.level] ?? entry.level}` : '';
  if (entry.msg === 'request' && entry.req) {
    const url = String(entry.req.url ?? '');
    const q = url.indexOf('?');
    const kept = q < 0 ? [] : url.slice(q + 1).split('&').filter((pair) => !SIGNING_PARAMS.has(decoded(pair.split('=')[0]).trim().toLowerCase()) && !/^action=/i.test(pair));
    const path = (q < 0 ? url : url.slice(0, q)) + (kept.length ? `?${kept.join('&')}` : '');
    return `${time}${level} ${entry.res?.statusCode ?? '-'} ${entry.req.method} ${path}${entry.action ? ` ${entry.action}` : ''} ${entry.responseTime} ms  ${entry.reqId ?? ''}`.trimEnd();
  }
  const { time: _t, level: _l, msg, pid: _p, hostname: _h, reqId, err, ...rest } = entry;
  const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  if (err) extra.unshift(`error: ${err.message ?? JSON.stringify(err)}`);
  return `${time}${level} ${msg ?? ''}${extra.length ? `  ${extra.join(' ')}` : ''}${reqId ? `  ${reqId}` : ''}`;
}

/** A destination for the logger that writes `textLine`s to `out` (the logger itself always produces JSON). */
export function textLogStream(out: NodeJS.WritableStream): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      pending += chunk.toString('utf8');
      let nl: number;
      let text = '';
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          text += textLine(JSON.parse(line)) + '\n';
        } catch {
          text += line + '\n';
        }
      }
      if (text) out.write(text);
      done();
    },
  });
}
