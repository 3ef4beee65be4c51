/** The ECS RPC endpoint on `/`: intake, authentication, dispatch and rendering. Handlers stay thin. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError, type ApiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import type { Surface } from '../http/surfaces.ts';
import { queryPairs, singleValued } from '../http/query.ts';
import { authPorts, verify, isV3Request, type RpcRequest } from './auth.ts';
import { parseV3Authorization } from './signature.ts';
import { ACTIONS } from './dispatch.ts';
import { runAction } from './action.ts';
import { renderError, renderSuccess, wireFormat } from './render.ts';
import { headerValue } from '../http/headers.ts';

export const API_VERSION = '2014-05-26';
const SMALL_UNAUTHENTICATED_BODY = 64 * 1024;

function formPairs(req: FastifyRequest): [string, string][] {
  const contentType = String(req.headers['content-type'] ?? '');
  const body = Buffer.isBuffer(req.body) ? req.body : undefined;
  return body?.length && contentType.startsWith('application/x-www-form-urlencoded') ? [...new URLSearchParams(body.toString('utf8')).entries()] : [];
}

function intake(req: FastifyRequest): RpcRequest {
  const query = queryPairs(req.raw.url);
  const form = formPairs(req);
  const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const path = (req.raw.url ?? '/').split('?', 1)[0];
  return { method: req.method, path, headers: req.headers, query, form, rawBody, params: singleValued(query, form) };
}


/**
 * Errors in Alibaba's shape: `{RequestId, HostId, Code, Message, Recommend}`, XML when `Format=XML`.
 * The data endpoints (disks, buckets, direct import, bills) share it, in JSON.
 */
export function ecsSurface(services: Pick<Services, 'regions'>): Surface {
  const lastValues = (req: FastifyRequest): Record<string, string> => Object.fromEntries([...queryPairs(req.raw.url), ...formPairs(req)]);
  const render = (err: ApiError, requestId: string, params: Record<string, string> = {}) => {
    const region = params.RegionId;
    const hostId = region && services.regions.get(region) ? `ecs.${region}.aliyuncs.com` : 'ecs.aliyuncs.com';
    return renderError(err, requestId, hostId, wireFormat(params.Format));
  };
  return {
    name: 'ecs',
    prefixes: ['/'],
    notFound: () => apiError('InvalidAction.NotFound'),
    sendError(err, req, reply) {
      const out = render(err, req.id, lastValues(req));
      return reply.code(out.status).header('content-type', out.contentType).header('x-acs-request-id', req.id).send(out.body);
    },
  };
}

export function registerEcsGateway(app: FastifyInstance, services: Services): void {
  const ports = authPorts(services);

  async function handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const rpc = intake(req);
    // Headers name the action only under a V3 signature, which must sign them; V1 signs parameters alone.
    const v3 = isV3Request(req.headers);
    const actionName = rpc.params.Action ?? (v3 ? headerValue(req.headers, 'x-acs-action') : undefined);
    if (!actionName) throw apiError('MissingParameter', 'Action');
    const action = ACTIONS.get(actionName);
    if (!action) throw apiError('InvalidAction.NotFound');
    const version = rpc.params.Version ?? (v3 ? headerValue(req.headers, 'x-acs-version') : undefined);
    if (!version) throw apiError('MissingParameter', 'Version');
    if (version !== API_VERSION) throw apiError('InvalidVersion');
    const { accountId, nonceChecked } = await verify(rpc, ports);
    // Recording the nonce is a round trip on PostgreSQL: a read runs meanwhile, and answers only if the nonce was fresh.
    const run = () => runAction(action, { accountId, requestId: req.id, services }, rpc.params);
    const running = action.readOnly ? run() : undefined;
    running?.catch(() => {});
    await nonceChecked;
    const result = await (running ?? run());
    const out = renderSuccess(actionName, req.id, result, wireFormat(rpc.params.Format));
    return reply.code(out.status).header('content-type', out.contentType).header('x-acs-request-id', req.id).send(out.body);
  }

  // Bodies beyond 64 KiB are read only for a V3 caller whose AccessKey exists (V1 may carry its credentials
  // in a form body, so small bodies are read first): an anonymous client cannot make the server read 1 MiB.
  app.addHook('preParsing', async (req, _reply, payload) => {
    const length = req.headers['content-length'];
    const large = req.headers['transfer-encoding'] !== undefined || (length !== undefined && !(Number(length) <= SMALL_UNAUTHENTICATED_BODY));
    if (!large) return payload;
    const auth = isV3Request(req.headers) ? parseV3Authorization(String(headerValue(req.headers, 'authorization'))) : undefined;
    if (!auth) throw apiError('IncompleteSignature');
    if (!(await ports.findAccessKey(auth.accessKeyId))) throw apiError('InvalidAccessKeyId.NotFound');
    return payload;
  });

  // Raw bytes are kept for every body: V3 signatures hash the exact payload, so @fastify/formbody's parsed
  // object is not enough (see docs/decisions.md).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: 1 << 20 }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1 << 20 }, (_req, body, done) => done(null, body));
  app.route({ method: ['GET', 'POST'], url: '/', handler: handle });
}
