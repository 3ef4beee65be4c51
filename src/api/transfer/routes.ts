import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from '../ecs/gateway.ts';

/** Upload and download endpoints (direct image import, bucket objects). */
export async function registerTransferRoutes(_scope: FastifyInstance, _deps: GatewayDeps): Promise<void> {}
