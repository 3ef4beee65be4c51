/**
 * Bills over HTTP, signed like the other data endpoints (V3, unsigned payload):
 * `GET /billing/bill?Month=YYYY-MM` (the caller's bill) and `GET /billing/revenue?Month=YYYY-MM` (an ISV's
 * revenue per Marketplace product). JSON, with amounts in cents and as decimal strings.
 */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../../services/context.ts';
import { currentBill, currentRevenue } from '../../../services/billing/bill.ts';
import { authenticateData, authPorts } from '../auth.ts';
import { p, parseParams } from '../params.ts';
import { sendJson } from '../render.ts';
import { queryPairs, singleValued } from '../../http/query.ts';

const schema = { Month: p.str({ required: true }) } as const;

export async function registerBillingRoutes(scope: FastifyInstance, services: Services): Promise<void> {
  const ports = authPorts(services);
  scope.get('/billing/bill', async (req, reply) => {
    const accountId = await authenticateData(req, ports);
    const { Month } = parseParams(schema, singleValued(queryPairs(req.raw.url)));
    return sendJson(reply, { ...(await currentBill(services, accountId, Month)) });
  });
  scope.get('/billing/revenue', async (req, reply) => {
    const accountId = await authenticateData(req, ports);
    const { Month } = parseParams(schema, singleValued(queryPairs(req.raw.url)));
    return sendJson(reply, await currentRevenue(services, accountId, Month));
  });
}
