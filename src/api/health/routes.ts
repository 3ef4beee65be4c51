/** `GET /healthz`: 200 when this node can serve, 503 otherwise; for HAProxy's health checks. No tenant data. */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services/context.ts';
import { checkHealth } from '../../services/health.ts';
import type { WorkerHealth } from '../../jobs/worker.ts';

export function registerHealth(server: FastifyInstance, services: Services, worker: () => WorkerHealth | undefined): void {
  server.get('/healthz', async (_req, reply) => {
    const health = await checkHealth(services, worker());
    reply.code(health.ok ? 200 : 503).header('cache-control', 'no-store');
    return { status: health.ok ? 'ok' : 'fail', ...health.checks };
  });
}
