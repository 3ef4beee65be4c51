import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from '../ecs/gateway.ts';

/** Disk content endpoints (read and write byte ranges of a disk). */
export async function registerDiskRoutes(_scope: FastifyInstance, _deps: GatewayDeps): Promise<void> {}
