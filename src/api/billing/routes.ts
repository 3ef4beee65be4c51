/**
 * Bills over HTTP, signed like the other data endpoints (V3, unsigned payload):
 * `GET /billing/bill?Month=YYYY-MM` (the caller's bill) and `GET /billing/revenue?Month=YYYY-MM` (an ISV's
 * revenue per Marketplace product). JSON, with amounts in cents and as decimal strings.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import type { GatewayDeps } from '../ecs/gateway.ts';
import { authPorts } from '../ecs/gateway.ts';
import { authenticateData, sendError } from '../http-auth.ts';
import { newRequestId } from '../ecs/render.ts';
import { currentBill, currentRevenue } from '../../services/billing/bill.ts';

type BillRequest = FastifyRequest<{ Querystring: Record<string, string | undefined> }>;

export async function registerBillingRoutes(scope: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const { services } = deps;
  const ports = authPorts(deps);
  const month = (req: BillRequest) => {
    const m = req.query.Month;
    if (!m) throw apiError('MissingParameter', 'Month');
    return m;
  };
  scope.get('/billing/bill', async (req: BillRequest, reply: FastifyReply) => {
    try {
      const accountId = await authenticateData(req, ports);
      reply.send({ RequestId: newRequestId(), ...(await currentBill(services, accountId, month(req))) });
    } catch (e) {
      sendError(reply, e);
    }
  });
  scope.get('/billing/revenue', async (req: BillRequest, reply: FastifyReply) => {
    try {
      const accountId = await authenticateData(req, ports);
      reply.send({ RequestId: newRequestId(), ...(await currentRevenue(services, accountId, month(req))) });
    } catch (e) {
      sendError(reply, e);
    }
  });
}
