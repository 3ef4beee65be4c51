/**
 * The web console under /console: static files, and a small JSON API for the page.
 *   POST   /console/api/session         {accessKeyId, accessKeySecret} → HttpOnly session cookie + CSRF token
 *   GET    /console/api/session         who is signed in (and the CSRF token again, after a reload)
 *   DELETE /console/api/session         sign out
 *   POST   /console/api/call/:Action    any ECS action as the session's account (JSON object of flat parameters)
 *   GET    /console/api/billing?Month=  the month's bill (default: the current month), cost per day, storage per image
 *   POST   /console/api/import?...      direct image import; the body is the disk file (as POST /images/import)
 * Every state-changing request needs the `x-csrf-token` header of its session.
 */
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, apiError } from '../domain/errors.ts';
import { findAccessKey } from '../services/accounts.ts';
import { directImport } from '../services/transfer/upload.ts';
import { currentBill } from '../services/billing/bill.ts';
import { dailyCost, storageByImage } from '../services/billing/daily.ts';
import type { GatewayDeps } from '../api/ecs/gateway.ts';
import { ACTIONS } from '../api/ecs/dispatch.ts';
import { runAction } from '../api/ecs/action.ts';
import { newRequestId, JSON_TYPE } from '../api/ecs/render.ts';
import { SESSION_COOKIE, SessionStore, cookieValue, sameSecret, type Session } from './sessions.ts';

const PUBLIC_DIR = path.join(import.meta.dirname, 'public');

function sendJson(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply {
  return reply.code(status).header('content-type', JSON_TYPE).header('cache-control', 'no-store').send(JSON.stringify(body));
}

function sendFailure(req: FastifyRequest, reply: FastifyReply, e: unknown): FastifyReply {
  const err = e instanceof ApiError ? e : apiError('InternalError');
  if (!(e instanceof ApiError)) req.log.error({ err: e }, 'console: unhandled error');
  return sendJson(reply, err.status, { RequestId: newRequestId(), Code: err.code, Message: err.message });
}

function cookie(id: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

function optionalInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,9}$/.test(v)) throw apiError('InvalidParameter', name);
  return Number(v);
}

export async function registerConsole(scope: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const { services } = deps;
  const sessions = new SessionStore(() => services.clock.now());

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
  const requireSession = (req: FastifyRequest): Session => {
    const s = sessions.get(cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (!s) throw apiError('InvalidAccessKeyId.NotFound');
    if (req.method !== 'GET' && !sameSecret(String(req.headers['x-csrf-token'] ?? ''), s.csrfToken)) throw apiError('Forbidden');
    return s;
  };

  scope.post('/console/api/session', async (req, reply) => {
    try {
      const body = (req.body ?? {}) as { accessKeyId?: unknown; accessKeySecret?: unknown };
      if (typeof body.accessKeyId !== 'string' || !body.accessKeyId) throw apiError('MissingParameter', 'accessKeyId');
      if (typeof body.accessKeySecret !== 'string' || !body.accessKeySecret) throw apiError('MissingParameter', 'accessKeySecret');
      const key = await findAccessKey(services.db, deps.box, body.accessKeyId);
      if (!key || !sameSecret(key.secret, body.accessKeySecret)) throw apiError('InvalidAccessKeyId.NotFound');
      const s = sessions.create(key.accountId, body.accessKeyId);
      reply.header('set-cookie', cookie(s.id, Math.floor((s.expiresAt - services.clock.now()) / 1000)));
      return sendJson(reply, 200, { AccountId: s.accountId, AccessKeyId: s.accessKeyId, CsrfToken: s.csrfToken });
    } catch (e) {
      return sendFailure(req, reply, e);
    }
  });

  scope.get('/console/api/session', async (req, reply) => {
    try {
      const s = requireSession(req);
      return sendJson(reply, 200, { AccountId: s.accountId, AccessKeyId: s.accessKeyId, CsrfToken: s.csrfToken });
    } catch (e) {
      return sendFailure(req, reply, e);
    }
  });

  scope.delete('/console/api/session', async (req, reply) => {
    try {
      sessions.delete(requireSession(req).id);
      reply.header('set-cookie', cookie('', 0));
      return sendJson(reply, 200, { SignedOut: true });
    } catch (e) {
      return sendFailure(req, reply, e);
    }
  });

  scope.post('/console/api/call/:action', async (req, reply) => {
    const requestId = newRequestId();
    try {
      const s = requireSession(req);
      const action = ACTIONS.get((req.params as { action: string }).action);
      if (!action) throw apiError('InvalidAction.NotFound');
      const raw = Object.fromEntries(Object.entries((req.body ?? {}) as Record<string, unknown>)
        .filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [k, String(v)]));
      const result = await runAction(action, { accountId: s.accountId, requestId, services }, raw);
      return sendJson(reply, 200, { RequestId: requestId, ...result });
    } catch (e) {
      return sendFailure(req, reply, e);
    }
  });

  scope.get('/console/api/billing', async (req, reply) => {
    try {
      const s = requireSession(req);
      const month = (req.query as { Month?: string }).Month || new Date(services.clock.now()).toISOString().slice(0, 7);
      const bill = await currentBill(services, s.accountId, month);
      const days = await dailyCost(services, s.accountId, month);
      return sendJson(reply, 200, { RequestId: newRequestId(), ...bill, days, storageByImage: storageByImage(bill) });
    } catch (e) {
      return sendFailure(req, reply, e);
    }
  });

  scope.post('/console/api/import', async (req, reply) => {
    try {
      const s = requireSession(req);
      const q = req.query as Record<string, string | undefined>;
      if (!q.RegionId) throw apiError('MissingParameter', 'RegionId');
      const started = await directImport(services, req.raw, {
        region: q.RegionId, owner: s.accountId, name: q.ImageName, description: q.Description, platform: q.Platform, osType: q.OSType,
        architecture: q.Architecture, bootMode: q.BootMode, licenseType: q.LicenseType, format: q.Format, diskImageSize: optionalInt(q.DiskImageSize, 'DiskImageSize'),
      });
      return sendJson(reply, 200, { RequestId: newRequestId(), ...started });
    } catch (e) {
      req.raw.resume();
      return sendFailure(req, reply, e);
    }
  });
}
