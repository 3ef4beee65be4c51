/** The ECS RPC endpoint on `/`: intake, authentication, dispatch and rendering. Handlers stay thin. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, apiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import { findAccessKey } from '../../services/accounts.ts';
import type { SecretBox } from '../../services/secret-box.ts';
import { authenticate, type AuthPorts, type RpcRequest } from './auth.ts';
import { ACTIONS } from './dispatch.ts';
import { runAction } from './action.ts';
import { newRequestId, renderError, renderSuccess, wireFormat, type Rendered } from './render.ts';

export const API_VERSION = '2014-05-26';

function intake(req: FastifyRequest): RpcRequest {
  const url = new URL(req.raw.url ?? '/', 'http://local');
  const query = [...url.searchParams.entries()];
  const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const contentType = String(req.headers['content-type'] ?? '');
  const form = contentType.startsWith('application/x-www-form-urlencoded') && rawBody.length
    ? [...new URLSearchParams(rawBody.toString('utf8')).entries()]
    : [];
  const params: Record<string, string> = {};
  for (const [k, v] of [...query, ...form]) params[k] = v;
  return { method: req.method, path: url.pathname, headers: req.headers, query, form, rawBody, params };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export interface GatewayDeps {
  services: Services;
  box: SecretBox;
  maxClockSkewMs: number;
}

function nonceStore(services: Services) {
  let sinceCleanup = 0;
  return async (key: string, expiresAt: number): Promise<boolean> => {
    const now = services.clock.now();
    if (++sinceCleanup >= 1000) {
      sinceCleanup = 0;
      await services.db.deleteFrom('nonces').where('expires_at', '<', now).execute();
    }
    const r = await services.db.insertInto('nonces').values({ nonce: key, expires_at: expiresAt })
      .onConflict((oc) => oc.column('nonce').doNothing()).executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) === 1) return true;
    // A nonce whose window has passed may be reused.
    const u = await services.db.updateTable('nonces').set({ expires_at: expiresAt }).where('nonce', '=', key).where('expires_at', '<', now).executeTakeFirst();
    return Number(u.numUpdatedRows) === 1;
  };
}

/** How requests are authenticated, shared by the RPC gateway and the data endpoints. */
export function authPorts(deps: GatewayDeps): AuthPorts {
  return {
    findAccessKey: (id) => findAccessKey(deps.services.db, deps.box, id),
    useNonce: nonceStore(deps.services),
    now: () => deps.services.clock.now(),
    maxSkewMs: deps.maxClockSkewMs,
  };
}

export function registerEcsGateway(app: FastifyInstance, deps: GatewayDeps): void {
  const { services } = deps;
  const ports = authPorts(deps);

  async function handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const rpc = intake(req);
    const requestId = newRequestId();
    const format = wireFormat(rpc.params.Format);
    const actionName = rpc.params.Action ?? first(req.headers['x-acs-action']);
    let out: Rendered;
    try {
      if (!actionName) throw apiError('MissingParameter', 'Action');
      const action = ACTIONS.get(actionName);
      if (!action) throw apiError('InvalidAction.NotFound');
      const version = rpc.params.Version ?? first(req.headers['x-acs-version']);
      if (!version) throw apiError('MissingParameter', 'Version');
      if (version !== API_VERSION) throw apiError('InvalidVersion');
      const accountId = await authenticate(rpc, ports);
      const result = await runAction(action, { accountId, requestId, services }, rpc.params);
      out = renderSuccess(actionName, requestId, result, format);
    } catch (e) {
      const err = e instanceof ApiError ? e : apiError('InternalError');
      if (!(e instanceof ApiError)) req.log.error({ err: e, requestId }, 'unhandled error');
      const region = rpc.params.RegionId;
      const hostId = region && services.regions.get(region) ? `ecs.${region}.aliyuncs.com` : 'ecs.aliyuncs.com';
      out = renderError(err, requestId, hostId, format);
    }
    reply.code(out.status).header('content-type', out.contentType).header('x-acs-request-id', requestId).send(out.body);
  }

  // Raw bytes are kept for every body: V3 signatures hash the exact payload, so @fastify/formbody's parsed
  // object is not enough (see docs/decisions.md).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: 1 << 20 }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1 << 20 }, (_req, body, done) => done(null, body));
  app.route({ method: ['GET', 'POST'], url: '/', handler: handle });
}
