/**
 * The web console under /console: static files, and a small JSON API for the page.
 *   POST   /console/api/session         {accessKeyId, accessKeySecret} → HttpOnly session cookie + CSRF token
 *   GET    /console/api/session         who is signed in (and the CSRF token again, after a reload)
 *   DELETE /console/api/session         sign out
 *   POST   /console/api/call/:Action    any ECS action as the session's account (JSON object of flat parameters)
 *   GET    /console/api/billing?Month=  the month's bill (default: the current month), cost per day, storage per image
 *   POST   /console/api/import?...      direct image import; the body is the disk file (as POST /images/import)
 * Every state-changing request needs the `x-csrf-token` header of its session. The console is a client of
 * the ECS surface: it runs the same actions, so it sees exactly the wire API's parameters, results and errors.
 */
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import { findAccessKey } from '../../services/accounts.ts';
import { directImport } from '../../services/transfer/upload.ts';
import { currentBill } from '../../services/billing/bill.ts';
import { dailyCost, storageByImage } from '../../services/billing/daily.ts';
import { ACTIONS } from '../ecs/dispatch.ts';
import { runAction } from '../ecs/action.ts';
import { JSON_TYPE } from '../ecs/render.ts';
import { parseParams, p } from '../ecs/params.ts';
import { directImportInput, directImportParams } from '../ecs/actions/tasks/import-params.ts';
import { queryPairs, singleValued } from '../http/query.ts';
import type { Surface } from '../http/surfaces.ts';
import { SESSION_COOKIE, cookieValue } from './sessions.ts';
import { kyselySessionStore, type Session } from '../../store/sessions.ts';
import { sameSecret } from '../../domain/secrets.ts';
import { jsonBytes } from '../http/json-bytes.ts';

const PUBLIC_DIR = path.join(import.meta.dirname, 'public');

/**
 * Every console answer (pages, scripts, API, errors): scripts and styles from this origin only, never in a
 * frame, no content sniffing, no referrer.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function sendJson(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply {
  return reply.code(status).headers(CONSOLE_SECURITY_HEADERS).header('content-type', JSON_TYPE).header('cache-control', 'no-store')
    .send(jsonBytes({ RequestId: reply.request.id, ...body }));
}

/** Errors as the page reads them: `{RequestId, Code, Message}` with the error's status. */
export const consoleSurface: Surface = {
  name: 'console',
  prefixes: ['/console'],
  notFound: () => apiError('InvalidAction.NotFound'),
  sendError: (err, _req, reply) => sendJson(reply, err.status, { Code: err.code, Message: err.message }),
};

function cookie(id: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

/** The call's body as flat wire parameters: an object of strings, numbers and booleans. */
function flatParams(body: unknown): Record<string, string> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw apiError('InvalidParameter', 'body');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw apiError('InvalidParameter', k);
    out[k] = String(v);
  }
  return out;
}

const billingQuery = { Month: p.str({ maxLength: 7 }) } as const;

export async function registerConsole(scope: FastifyInstance, services: Services): Promise<void> {
  const sessions = kyselySessionStore(services.db, services.clock);
  scope.addHook('onSend', async (_req, reply) => {
    reply.headers(CONSOLE_SECURITY_HEADERS);
  });

  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1 << 20 }, (_req, body, done) => {
    try {
      done(null, body ? JSON.parse(body as string) : {});
    } catch {
      done(apiError('InvalidParameter', 'body'), undefined);
    }
  });
  // Uploads stay unread streams for the importer.
  scope.addContentTypeParser('*', (_req, _payload, done) => done(null));

  await scope.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/console/', index: 'index.html' });
  scope.get('/console', (_req, reply) => reply.redirect('/console/'));

  /** The session of a request; state-changing requests must also carry its CSRF token. */
  const requireSession = async (req: FastifyRequest): Promise<Session> => {
    const s = await sessions.get(cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (!s) throw apiError('InvalidAccessKeyId.NotFound');
    if (req.method !== 'GET' && !sameSecret(String(req.headers['x-csrf-token'] ?? ''), s.csrfToken)) throw apiError('Forbidden');
    return s;
  };

  scope.post('/console/api/session', async (req, reply) => {
    const body = (req.body ?? {}) as { accessKeyId?: unknown; accessKeySecret?: unknown };
    if (typeof body.accessKeyId !== 'string' || !body.accessKeyId) throw apiError('MissingParameter', 'accessKeyId');
    if (typeof body.accessKeySecret !== 'string' || !body.accessKeySecret) throw apiError('MissingParameter', 'accessKeySecret');
    const key = await findAccessKey(services, body.accessKeyId);
    if (!key || !sameSecret(key.secret, body.accessKeySecret)) throw apiError('InvalidAccessKeyId.NotFound');
    const s = await sessions.create(key.accountId, body.accessKeyId);
    reply.header('set-cookie', cookie(s.id, Math.floor((s.expiresAt - services.clock.now()) / 1000)));
    return sendJson(reply, 200, { AccountId: s.accountId, AccessKeyId: s.accessKeyId, CsrfToken: s.csrfToken });
  });

  scope.get('/console/api/session', async (req, reply) => {
    const s = await requireSession(req);
    return sendJson(reply, 200, { AccountId: s.accountId, AccessKeyId: s.accessKeyId, CsrfToken: s.csrfToken });
  });

  scope.delete('/console/api/session', async (req, reply) => {
    await sessions.delete((await requireSession(req)).id);
    reply.header('set-cookie', cookie('', 0));
    return sendJson(reply, 200, { SignedOut: true });
  });

  scope.post('/console/api/call/:action', async (req, reply) => {
    const s = await requireSession(req);
    const action = ACTIONS.get((req.params as { action: string }).action);
    if (!action) throw apiError('InvalidAction.NotFound');
    const raw = flatParams(req.body);
    const result = await runAction(action, { accountId: s.accountId, requestId: req.id, services }, raw);
    return sendJson(reply, 200, result);
  });

  scope.get('/console/api/billing', async (req, reply) => {
    const s = await requireSession(req);
    const month = parseParams(billingQuery, singleValued(queryPairs(req.raw.url))).Month || new Date(services.clock.now()).toISOString().slice(0, 7);
    const bill = await currentBill(services, s.accountId, month);
    const days = await dailyCost(services, s.accountId, month);
    return sendJson(reply, 200, { ...bill, days, storageByImage: storageByImage(bill) });
  });

  scope.post('/console/api/import', async (req, reply) => {
    const s = await requireSession(req);
    const q = parseParams(directImportParams, singleValued(queryPairs(req.raw.url)));
    return sendJson(reply, 200, await directImport(services, req.raw, directImportInput(q, s.accountId)));
  });
}
