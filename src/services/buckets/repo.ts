/** Bucket rows: who owns a bucket and in which region it lives. Names are global, as OSS bucket names are. */
import type { BucketRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import { checkBucketName, isBucketName, keyProblem } from './names.ts';
import type { ObjectInfo } from './object-store.ts';

export async function createBucket(services: Services, input: { name: string; owner: string; region: string }): Promise<BucketRow> {
  checkBucketName(input.name);
  const region = services.regions.require(input.region);
  if (await findBucket(services, input.name)) throw apiError('BucketAlreadyExists');
  await services.objects.createBucket(input.name);
  const row: BucketRow = { name: input.name, owner_id: input.owner, region: region.id, created_at: services.clock.now() };
  await services.db.insertInto('buckets').values(row).execute();
  return row;
}

export async function listBuckets(services: Pick<Services, 'db'>, owner: string, region?: string): Promise<BucketRow[]> {
  const { db } = services;
  return db.selectFrom('buckets').selectAll().where('owner_id', '=', owner)
    .$if(region !== undefined, (q) => q.where('region', '=', region!)).orderBy('name').execute();
}

export function findBucket(services: Pick<Services, 'db'>, name: string): Promise<BucketRow | undefined> {
  const { db } = services;
  return db.selectFrom('buckets').selectAll().where('name', '=', name).executeTakeFirst();
}

/** The caller's bucket, for the object endpoints (NoSuchBucket / AccessDenied). */
export async function requireOwnBucket(services: Pick<Services, 'db'>, name: string, owner: string): Promise<BucketRow> {
  checkBucketName(name);
  const row = await findBucket(services, name);
  if (!row) throw apiError('NoSuchBucket');
  if (row.owner_id !== owner) throw apiError('AccessDenied');
  return row;
}

/**
 * The bucket an ImportImage / ExportImage names, with the ECS codes: it must exist in the image's region
 * and belong to the caller.
 */
export async function requireTransferBucket(services: Pick<Services, 'db'>, name: string, owner: string, region: string): Promise<BucketRow> {
  if (!isBucketName(name)) throw apiError('InvalidOSSBucket.Malformed');
  const row = await findBucket(services, name);
  if (!row || row.region !== region) throw apiError('InvalidOSSBucket.NotFound');
  if (row.owner_id !== owner) throw apiError('InvalidOSS.NotAuthorized');
  return row;
}

/** The object an ImportImage disk names: it must exist and hold at least one byte. */
export async function requireImportObject(services: Services, bucket: string, key: string): Promise<ObjectInfo> {
  if (keyProblem(key)) throw apiError('InvalidOSSObject.Malformed');
  const info = await services.objects.head(bucket, key);
  if (!info) throw apiError('InvalidOSSObject.NotFound');
  if (info.size === 0) throw apiError('InvalidOSSObject.Size');
  return info;
}
