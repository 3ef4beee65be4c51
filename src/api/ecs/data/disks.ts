/**
 * Disk content: `GET /disks/:diskId/content` (whole disk as raw, or `Range: bytes=a-b` → 206; with
 * `Accept: application/vnd.imagehouse.sparse`, the same bytes as a sparse body that leaves the holes out) and
 * `PUT /disks/:diskId/content?offset=N` (the body streams into copy-on-write writes). Signed like the
 * RPC gateway (V3, unsigned payload); the region comes from the disk ID; another account's disk is
 * InvalidDiskId.NotFound.
 *
 * `POST /disks/:diskId/nbd-token?TtlSeconds=N` (signed the same way) issues a short-lived NBD export name for
 * the caller's disk: `{ DiskId, ExportName, Uri: nbd://127.0.0.1:<port>/<ExportName>, Expiration }`
 * (TtlSeconds 1–3600, default 300; checked when a client opens the export, see api/nbd).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import type { Services } from '../../../services/context.ts';
import { diskBytes, openDiskRead, readManifestSparse, writeDiskStream, writeManifestRange } from '../../../services/compute/disk-content.ts';
import { whenAnswered } from '../../http/answered.ts';
import { sendWritten } from '../../http/written-body.ts';
import { contentRange, resolveByteRange } from '../../http/byte-range.ts';
import { acceptsSparse, SPARSE_CONTENT_TYPE } from '../../../formats/sparse-body.ts';
import { authenticateData, authPorts } from '../auth.ts';
import { p, parseParams } from '../params.ts';
import { sendJson } from '../render.ts';
import { isoSeconds } from '../views/time.ts';
import { issueNbdToken } from '../../../services/compute/nbd-exports.ts';
import { NBD_TOKEN_MAX_TTL_S } from '../../../domain/nbd.ts';
import { queryPairs, singleValued } from '../../http/query.ts';

type DiskRequest = FastifyRequest<{ Params: { diskId: string } }>;

const writeSchema = {
  offset: p.int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  'Content-Length': p.int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
} as const;

const tokenSchema = { TtlSeconds: p.int({ min: 1, max: NBD_TOKEN_MAX_TTL_S }) } as const;

export async function registerDiskRoutes(scope: FastifyInstance, services: Services): Promise<void> {
  const ports = authPorts(services);
  // Bodies stream straight into the handler, whatever their type.
  scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  scope.get('/disks/:diskId/content', async (req: DiskRequest, reply) => {
    const accountId = await authenticateData(req, ports);
    const handle = await openDiskRead(services, accountId, req.params.diskId);
    // Held until the answer is over, whichever way it ends: the body is read after this handler returns.
    whenAnswered(reply, () => void handle.close().catch((err) => req.log.warn({ err }, 'releasing a disk read failed')));
    const size = diskBytes(handle.disk);
    let start = 0;
    let end = size;
    const headers: Record<string, string> = { 'accept-ranges': 'bytes', vary: 'accept' };
    if (req.headers.range) {
      const r = resolveByteRange(req.headers.range, size);
      if (typeof r === 'string') return reply.code(416).header('content-range', `bytes */${size}`).send();
      ({ start, end } = r);
      headers['content-range'] = contentRange(r, size);
    }
    const status = req.headers.range ? 206 : 200;
    if (!acceptsSparse(req.headers.accept)) {
      // Plain bytes: chunks read into the data plane's reused buffers, each given back once the socket has it.
      const plain = { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(end - start) };
      return sendWritten(req, reply, status, plain, (out) => writeManifestRange(handle, services.dataPlane.buffers, start, end, out));
    }
    const body = Readable.from(readManifestSparse(handle.manifest, handle.store, start, end), { objectMode: false });
    return reply.code(status).headers({ ...headers, 'content-type': SPARSE_CONTENT_TYPE }).send(body);
  });

  scope.put('/disks/:diskId/content', async (req: DiskRequest, reply) => {
    const accountId = await authenticateData(req, ports);
    const length = req.headers['content-length'];
    const q = parseParams(writeSchema, { ...singleValued(queryPairs(req.raw.url)), ...(length === undefined ? {} : { 'Content-Length': length }) });
    const offset = q.offset ?? 0;
    const written = await writeDiskStream(services, accountId, req.params.diskId, offset, req.raw, q['Content-Length']);
    return sendJson(reply, { DiskId: req.params.diskId, Offset: offset, BytesWritten: written });
  });

  scope.post('/disks/:diskId/nbd-token', async (req: DiskRequest, reply) => {
    const accountId = await authenticateData(req, ports);
    const q = parseParams(tokenSchema, singleValued(queryPairs(req.raw.url)));
    const t = await issueNbdToken(services, accountId, req.params.diskId, q.TtlSeconds);
    return sendJson(reply, { DiskId: t.diskId, ExportName: t.exportName, Uri: t.uri ?? '', Expiration: isoSeconds(t.expiresAt) });
  });
}
