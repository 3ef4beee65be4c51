/**
 * Data endpoints for transfers, signed like the RPC gateway (V3, `x-acs-content-sha256: UNSIGNED-PAYLOAD`)
 * with bodies streamed, never buffered:
 *   PUT    /buckets/{name}?RegionId=             create a bucket
 *   GET    /buckets[?RegionId=]                  the caller's buckets
 *   PUT    /buckets/{name}/object?Key=           upload an object (body = the bytes, or a sparse body: formats/sparse-body.ts)
 *   GET    /buckets/{name}/object?Key=           download an object (`Accept: application/vnd.imagehouse.sparse`: as a sparse body)
 *   DELETE /buckets/{name}/object?Key=           delete an object
 *   GET    /buckets/{name}/objects[?Prefix=&StartAfter=&MaxKeys=]   list objects
 *   POST   /images/import?RegionId=&ImageName=&Format=&...          direct import (body = the disk file, or a sparse body of it)
 * Keys travel in the query string, so they are signed exactly and need no path encoding.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import type { Services } from '../../../services/context.ts';
import { checkObjectKey } from '../../../services/buckets/names.ts';
import { createBucket, listBuckets, requireOwnBucket } from '../../../services/buckets/repo.ts';
import { directImport } from '../../../services/transfer/upload.ts';
import { downloadObject, putObject } from '../../../services/buckets/transfers.ts';
import { whenAnswered } from '../../http/answered.ts';
import { authenticateData, authPorts } from '../auth.ts';
import { p, parseParams, type Params, type Schema } from '../params.ts';
import { sendJson } from '../render.ts';
import { isoSeconds } from '../views/time.ts';
import { directImportInput, directImportParams } from '../actions/tasks/import-params.ts';
import { queryPairs, singleValued } from '../../http/query.ts';
import { headerValue } from '../../http/headers.ts';
import type { ObjectBody } from '../../../services/buckets/object-store.ts';
import { acceptsSparse, expandSparse, SPARSE_CONTENT_TYPE, writeSparseFile } from '../../../formats/sparse-body.ts';
import { chunksOf } from '../../../formats/stream-chunks.ts';

type BucketRequest = FastifyRequest<{ Params: { name: string } }>;

const schemas = {
  createBucket: { RegionId: p.str({ required: true, maxLength: 64 }) },
  listBuckets: { RegionId: p.str({ maxLength: 64 }) },
  object: { Key: p.str({ required: true }) },
  listObjects: { Prefix: p.str(), StartAfter: p.str(), MaxKeys: p.int({ min: 0 }) },
} as const;

function query<S extends Schema>(req: FastifyRequest, schema: S): Params<S> {
  return parseParams(schema, singleValued(queryPairs(req.raw.url)));
}

/**
 * The upload's bytes. A sparse body (the CLI's upload of a file with holes) is written with its holes by the folder
 * backend, and expanded to plain bytes for S3; a malformed one fails as InvalidImage.Malformed.
 */
function objectBody(req: FastifyRequest): ObjectBody {
  if (headerValue(req.headers, 'content-type') !== SPARSE_CONTENT_TYPE) return chunksOf(req.raw);
  return { writeFile: (path, staging) => writeSparseFile(req.raw, path, staging), stream: () => expandSparse(chunksOf(req.raw)) };
}

const bucketView = (b: { name: string; region: string; created_at: number }) => ({ Name: b.name, RegionId: b.region, CreationTime: isoSeconds(b.created_at) });

export async function registerTransferRoutes(scope: FastifyInstance, services: Services): Promise<void> {
  const ports = authPorts(services);

  // Bodies stay unread streams: handlers pipe them where they belong, after authentication.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_req, _payload, done) => done(null));

  scope.put('/buckets/:name', async (req: BucketRequest, reply) => {
    const owner = await authenticateData(req, ports);
    const { RegionId } = query(req, schemas.createBucket);
    return sendJson(reply, { Bucket: bucketView(await createBucket(services, { name: req.params.name, owner, region: RegionId })) });
  });

  scope.get('/buckets', async (req, reply) => {
    const owner = await authenticateData(req, ports);
    const { RegionId } = query(req, schemas.listBuckets);
    if (RegionId) services.regions.require(RegionId);
    return sendJson(reply, { Buckets: { Bucket: (await listBuckets(services, owner, RegionId)).map(bucketView) } });
  });

  const objectRef = async (req: BucketRequest) => {
    const owner = await authenticateData(req, ports);
    await requireOwnBucket(services, req.params.name, owner);
    const { Key } = query(req, schemas.object);
    checkObjectKey(Key);
    return { owner, bucket: req.params.name, key: Key };
  };

  scope.put('/buckets/:name/object', async (req: BucketRequest, reply) => {
    const { owner, bucket, key } = await objectRef(req);
    const { size } = await putObject(services, owner, bucket, key, objectBody(req));
    return sendJson(reply, { Bucket: bucket, Key: key, Size: size });
  });

  scope.get('/buckets/:name/object', async (req: BucketRequest, reply) => {
    const { owner, bucket, key } = await objectRef(req);
    reply.header('vary', 'accept');
    const sparse = acceptsSparse(req.headers.accept);
    const { size, body, release } = await downloadObject(services, owner, bucket, key, sparse);
    whenAnswered(reply, release);
    if (sparse) return reply.code(200).header('content-type', SPARSE_CONTENT_TYPE).send(Readable.from(body, { objectMode: false }));
    return reply.code(200).header('content-type', 'application/octet-stream').header('content-length', size).send(body);
  });

  scope.delete('/buckets/:name/object', async (req: BucketRequest, reply) => {
    const { bucket, key } = await objectRef(req);
    await services.objects.delete(bucket, key);
    return sendJson(reply, {});
  });

  scope.get('/buckets/:name/objects', async (req: BucketRequest, reply) => {
    const owner = await authenticateData(req, ports);
    await requireOwnBucket(services, req.params.name, owner);
    const q = query(req, schemas.listObjects);
    const max = q.MaxKeys === undefined ? undefined : Math.min(1000, Math.max(1, q.MaxKeys));
    const { objects, truncated } = await services.objects.list(req.params.name, { prefix: q.Prefix, startAfter: q.StartAfter, max });
    return sendJson(reply, {
      Bucket: req.params.name,
      IsTruncated: truncated,
      Objects: { Object: objects.map((o) => ({ Key: o.key, Size: o.size, LastModified: isoSeconds(o.lastModified) })) },
    });
  });

  scope.post('/images/import', async (req, reply) => {
    const owner = await authenticateData(req, ports);
    const sparse = headerValue(req.headers, 'content-type') === SPARSE_CONTENT_TYPE;
    return sendJson(reply, await directImport(services, req.raw, directImportInput(query(req, directImportParams), owner), { sparse }));
  });
}

