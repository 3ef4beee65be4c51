/**
 * Data endpoints for transfers, signed like the RPC gateway (V3, `x-acs-content-sha256: UNSIGNED-PAYLOAD`)
 * with bodies streamed, never buffered:
 *   PUT    /buckets/{name}?RegionId=             create a bucket
 *   GET    /buckets[?RegionId=]                  the caller's buckets
 *   PUT    /buckets/{name}/object?Key=           upload an object (body = the bytes)
 *   GET    /buckets/{name}/object?Key=           download an object
 *   DELETE /buckets/{name}/object?Key=           delete an object
 *   GET    /buckets/{name}/objects[?Prefix=&StartAfter=&MaxKeys=]   list objects
 *   POST   /images/import?RegionId=&ImageName=&Format=&...          direct import (body = the disk file)
 * Keys travel in the query string, so they are signed exactly and need no path encoding.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authPorts, type GatewayDeps } from '../ecs/gateway.ts';
import { authenticateData, sendError } from '../http-auth.ts';
import { newRequestId, JSON_TYPE } from '../ecs/render.ts';
import { apiError } from '../../domain/errors.ts';
import { checkObjectKey } from '../../services/buckets/names.ts';
import { createBucket, listBuckets, requireOwnBucket } from '../../services/buckets/repo.ts';
import { objectStoreFor } from '../../services/buckets/store.ts';
import { directImport } from '../../services/transfer/upload.ts';
import { isoSeconds } from '../ecs/views/time.ts';

type Query = Record<string, string | undefined>;

function query(req: FastifyRequest): Query {
  return req.query as Query;
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,9}$/.test(v)) throw apiError('InvalidParameter', name);
  return Number(v);
}

export async function registerTransferRoutes(scope: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const { services } = deps;
  const ports = authPorts(deps);
  const store = () => objectStoreFor(services);

  // Bodies stay unread streams: handlers pipe them where they belong.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_req, _payload, done) => done(null));

  /** Authenticates, runs `fn`, and answers JSON (with a RequestId) or whatever `fn` sent itself. */
  const route = (fn: (req: FastifyRequest, reply: FastifyReply, accountId: string) => Promise<Record<string, unknown> | void>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const accountId = await authenticateData(req, ports);
        const body = await fn(req, reply, accountId);
        if (body) reply.code(200).header('content-type', JSON_TYPE).send(JSON.stringify({ RequestId: newRequestId(), ...body }));
      } catch (e) {
        req.raw.resume(); // drain an unread upload so the error reaches the client
        sendError(reply, e);
      }
      return reply;
    };

  const bucketView = (b: { name: string; region: string; created_at: number }) => ({ Name: b.name, RegionId: b.region, CreationTime: isoSeconds(b.created_at) });

  scope.put('/buckets/:name', route(async (req, _reply, accountId) => {
    const { name } = req.params as { name: string };
    const region = query(req).RegionId;
    if (!region) throw apiError('MissingParameter', 'RegionId');
    return { Bucket: bucketView(await createBucket(services, { name, owner: accountId, region })) };
  }));

  scope.get('/buckets', route(async (req, _reply, accountId) => {
    const region = query(req).RegionId || undefined;
    if (region) services.regions.require(region);
    return { Buckets: { Bucket: (await listBuckets(services.db, accountId, region)).map(bucketView) } };
  }));

  const objectRef = async (req: FastifyRequest, accountId: string) => {
    const { name } = req.params as { name: string };
    await requireOwnBucket(services.db, name, accountId);
    const key = query(req).Key;
    if (key === undefined) throw apiError('MissingParameter', 'Key');
    checkObjectKey(key);
    return { bucket: name, key };
  };

  scope.put('/buckets/:name/object', route(async (req, _reply, accountId) => {
    const { bucket, key } = await objectRef(req, accountId);
    const { size } = await store().put(bucket, key, req.raw);
    return { Bucket: bucket, Key: key, Size: size };
  }));

  scope.get('/buckets/:name/object', route(async (req, reply, accountId) => {
    const { bucket, key } = await objectRef(req, accountId);
    const { size, body } = await store().get(bucket, key);
    reply.code(200).header('content-type', 'application/octet-stream').header('content-length', size).send(body);
  }));

  scope.delete('/buckets/:name/object', route(async (req, _reply, accountId) => {
    const { bucket, key } = await objectRef(req, accountId);
    await store().delete(bucket, key);
    return {};
  }));

  scope.get('/buckets/:name/objects', route(async (req, _reply, accountId) => {
    const { name } = req.params as { name: string };
    await requireOwnBucket(services.db, name, accountId);
    const q = query(req);
    const max = int(q.MaxKeys, 'MaxKeys');
    const { objects, truncated } = await store().list(name, { prefix: q.Prefix, startAfter: q.StartAfter, max: max === undefined ? undefined : Math.min(1000, Math.max(1, max)) });
    return {
      Bucket: name,
      IsTruncated: truncated,
      Objects: { Object: objects.map((o) => ({ Key: o.key, Size: o.size, LastModified: isoSeconds(o.lastModified) })) },
    };
  }));

  scope.post('/images/import', route(async (req, _reply, accountId) => {
    const q = query(req);
    if (!q.RegionId) throw apiError('MissingParameter', 'RegionId');
    return directImport(services, req.raw, {
      region: q.RegionId,
      owner: accountId,
      name: q.ImageName,
      description: q.Description,
      platform: q.Platform,
      osType: q.OSType,
      architecture: q.Architecture,
      bootMode: q.BootMode,
      licenseType: q.LicenseType,
      format: q.Format,
      diskImageSize: int(q.DiskImageSize, 'DiskImageSize'),
    });
  }));
}
