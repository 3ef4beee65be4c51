/** Glance cache routes (`/v2/cache`, API 2.14+): a thin adapter over services/glance/cache.ts. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services/context.ts';
import type { Identity } from '../../services/identity/tokens.ts';
import { clearCache, listCache, queueForCache, uncache } from '../../services/glance/cache.ts';
import { headerValue } from '../http/headers.ts';

type Send = (reply: FastifyReply, status: number, body?: unknown) => FastifyReply;
type P = { Params: { id: string } };

export function registerGlanceCache(app: FastifyInstance, services: Services, V2: string, auth: (req: FastifyRequest) => Promise<Identity>, send: Send): void {
  // Filling runs after the request has been answered; its failures are logged, and the image leaves the queue.
  const onError = (req: FastifyRequest) => (err: unknown) => req.log.warn({ err }, 'could not fill the image cache');
  app.get(`${V2}/cache`, async (req, reply) => send(reply, 200, await listCache(services, await auth(req), onError(req))));
  app.put<P>(`${V2}/cache/:id`, async (req, reply) => {
    await queueForCache(services, await auth(req), req.params.id, onError(req));
    return send(reply, 202);
  });
  app.delete<P>(`${V2}/cache/:id`, async (req, reply) => {
    await uncache(services, await auth(req), req.params.id);
    return send(reply, 204);
  });
  app.delete(`${V2}/cache`, async (req, reply) => {
    await clearCache(services, await auth(req), headerValue(req.headers, 'x-image-cache-clear-target') ?? '');
    return send(reply, 204);
  });
}
