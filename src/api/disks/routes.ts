/**
 * Disk content: `GET /disks/:diskId/content` (whole disk as raw, or `Range: bytes=a-b` → 206) and
 * `PUT /disks/:diskId/content?offset=N` (the body streams into copy-on-write writes). Signed like the
 * RPC gateway (V3, unsigned payload); the region comes from the disk ID; another account's disk is
 * InvalidDiskId.NotFound.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { apiError } from '../../domain/errors.ts';
import type { GatewayDeps } from '../ecs/gateway.ts';
import { authPorts } from '../ecs/gateway.ts';
import { authenticateData, sendError } from '../http-auth.ts';
import { diskBytes, openDiskRead, parseRange, readManifestRange, writeDiskStream } from '../../services/compute/disk-content.ts';

type DiskRequest = FastifyRequest<{ Params: { diskId: string }; Querystring: Record<string, string | undefined> }>;

function nonNegativeInt(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw apiError('InvalidParameter', name);
  return Number(raw);
}

export async function registerDiskRoutes(scope: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const { services } = deps;
  const ports = authPorts(deps);
  // Bodies stream straight into the handler, whatever their type.
  scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  scope.get('/disks/:diskId/content', async (req: DiskRequest, reply: FastifyReply) => {
    let handle;
    try {
      const accountId = await authenticateData(req, ports);
      handle = await openDiskRead(services, accountId, req.params.diskId);
      const size = diskBytes(handle.disk);
      const rangeHeader = req.headers.range;
      let start = 0;
      let end = size;
      if (rangeHeader) {
        const r = parseRange(rangeHeader, size);
        if (!r) {
          await handle.close();
          return reply.code(416).header('content-range', `bytes */${size}`).send();
        }
        ({ start, end } = r);
        reply.code(206).header('content-range', `bytes ${start}-${end - 1}/${size}`);
      }
      const h = handle;
      const body = Readable.from(readManifestRange(h.manifest, h.store, start, end), { objectMode: false });
      body.once('close', () => void h.close());
      return reply.header('content-type', 'application/octet-stream').header('accept-ranges', 'bytes')
        .header('content-length', String(end - start)).send(body);
    } catch (e) {
      await handle?.close();
      return sendError(reply, e);
    }
  });

  scope.put('/disks/:diskId/content', async (req: DiskRequest, reply: FastifyReply) => {
    try {
      const accountId = await authenticateData(req, ports);
      const offset = nonNegativeInt(req.query.offset, 'offset') ?? 0;
      const declared = nonNegativeInt(req.headers['content-length'] as string | undefined, 'Content-Length');
      const written = await writeDiskStream(services, accountId, req.params.diskId, offset, req.raw, declared);
      return reply.code(200).header('content-type', 'application/json;charset=utf-8').send({ DiskId: req.params.diskId, Offset: offset, BytesWritten: written });
    } catch (e) {
      // Stop reading a body that will not be used; the error answer still goes out.
      req.raw.resume();
      return sendError(reply, e);
    }
  });
}
