/**
 * CopyImage: a new image in the destination region with its own snapshots and manifests. Each region keeps
 * its own chunks, so the job transfers only the chunks the destination lacks (incremental), then commits the
 * manifests there. The copy shares nothing with the source: deleting either leaves the other intact.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { ApiError, apiError } from '../../domain/errors.ts';
import { assertImageAllows } from '../../domain/image-kinds.ts';
import { checkDescription, checkImageName, type Tag } from '../../domain/image-rules.ts';
import { newResourceId } from '../../domain/ids.ts';
import type { Services } from '../context.ts';
import { JOB_KIND } from '../job-kinds.ts';
import { assertImageQuota, insertImage } from './rows.ts';
import { assertNameFree } from './modify.ts';
import { findVisibleImage } from './describe.ts';
import { assertMarketplaceCopy } from '../marketplace/rules.ts';


export interface CopyImageInput {
  sourceRegion: string;
  imageId: string;
  caller: string;
  destinationRegion?: string;
  name?: string;
  description?: string;
  encrypted?: boolean;
  kmsKeyId?: string;
  tags: Tag[];
  dryRun?: boolean;
  /** A surface's own limit, checked in the copy's transaction after the caller's account row is locked. */
  checkLimit?: (trx: Kysely<Database>) => Promise<void>;
}

/** A copy of `sourceId` into `region` that has not finished (Waiting or Creating). */
async function copyInFlight(db: Kysely<Database>, region: string, sourceId: string): Promise<boolean> {
  return !!(await db.selectFrom('images').select('id').where('region', '=', region).where('source_kind', '=', 'copy')
    .where('source_id', '=', sourceId).where('status', 'in', ['Waiting', 'Creating']).executeTakeFirst());
}

export async function copyImage(services: Services, input: CopyImageInput): Promise<{ imageId: string }> {
  const { db } = services;
  const src = services.regions.require(input.sourceRegion, 'SourceRegion.NotFound');
  const dst = services.regions.require(input.destinationRegion ?? input.sourceRegion, 'DestinationRegion.NotFound');
  if (input.kmsKeyId && !input.encrypted) throw apiError('InvalidParameter.EncryptedIllegal');
  const source = await findVisibleImage(services, src.id, input.imageId, input.caller);
  if (!source) throw apiError('InvalidImageId.NotFound');
  const image = source.row;
  if (image.category !== 'self') throw apiError('Forbbiden');
  assertImageAllows(image, dst.id === src.id ? 'copy' : 'crossRegionCopy');
  if (image.owner_id !== input.caller) {
    if (image.is_public && !(await db.selectFrom('image_shares').select('image_id').where('image_id', '=', image.id).where('account_id', '=', input.caller).executeTakeFirst())) {
      throw apiError('OperationDenied.CommunityImage');
    }
    if (dst.id !== src.id) throw apiError('OperationDenied.SameRegionOnly');
  }
  if (image.status !== 'Available') throw new ApiError('IncorrectImageStatus', 'The image not available.');
  if (image.product_code) await assertMarketplaceCopy(services, image.product_code, dst.id, input.caller);
  if (await copyInFlight(db, dst.id, image.id)) throw apiError('OperationDenied.ImageCopyConflict');
  const name = input.name ?? image.name;
  checkImageName(name);
  if (input.description !== undefined) checkDescription(input.description);
  await assertNameFree(services, dst.id, input.caller, name).catch(() => {
    throw new ApiError('InvalidImageName.Duplicated', 'The specified image name is already in use in the target region. Please try a different one.');
  });
  await assertImageQuota(services, dst.id, input.caller, services.limits.imageQuota);
  if (input.dryRun) throw apiError('DryRunOperation');

  const snapshotIds = source.disks.map((d) => d.snapshot_id);
  const now = services.clock.now();
  const imageId = newResourceId('image', dst.infix);
  await db.transaction().execute(async (trx) => {
    const { id: _id, region: _region, owner_id: _owner, created_at: _created, updated_at: _updated, ...attrs } = image;
    await insertImage(trx, {
      ...attrs, id: imageId, region: dst.id, owner_id: input.caller, name, description: input.description ?? image.description,
      status: 'Waiting', progress: 0, is_copied: 1, is_public: 0, source_kind: 'copy', source_id: image.id,
      encrypted: input.encrypted ? 1 : image.encrypted, kms_key_id: input.kmsKeyId ?? image.kms_key_id, error_code: '', error_message: '',
    }, source.disks.map((d) => ({ type: d.type, device: d.device, size_gib: d.size_gib, snapshot_id: '', progress: 0 })), input.tags, now, services.limits.imageQuota);
    await input.checkLimit?.(trx);
    await services.jobs.enqueue(trx, {
      kind: JOB_KIND.copyImage, region: dst.id, accountId: input.caller, resourceId: imageId, maxAttempts: 50,
      payload: { sourceRegion: src.id, sourceImageId: image.id, snapshotIds },
    });
  });
  services.wakeWorker();
  return { imageId };
}

/** CancelCopyImage: RegionId is the destination, ImageId the copy. The copy disappears at once; the job cleans up. */
export async function cancelCopy(services: Services, input: { region: string; imageId: string; caller: string }): Promise<void> {
  const { db } = services;
  const region = services.regions.require(input.region);
  const image = await db.selectFrom('images').selectAll().where('region', '=', region.id).where('id', '=', input.imageId)
    .where('owner_id', '=', input.caller).where('category', '=', 'self').executeTakeFirst();
  if (!image) throw apiError('InvalidImageId.NotFound');
  if (image.source_kind !== 'copy') throw apiError('ImageCreatedNotFromCopy');
  if (image.status === 'Available' || image.status === 'Deprecated') throw new ApiError('IncorrectImageStatus', 'The image copy has completed.');
  if (image.status === 'CreateFailed' || image.status === 'UnAvailable') throw new ApiError('IncorrectImageStatus', 'The Image copy has been failed.');
  const job = await db.selectFrom('jobs').select('id').where('resource_id', '=', image.id).where('kind', '=', JOB_KIND.copyImage)
    .where('state', 'in', ['queued', 'running']).executeTakeFirst();
  if (!job) throw apiError('CancelNotSupported');
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('images').where('region', '=', region.id).where('id', '=', image.id).execute();
    await trx.deleteFrom('image_disks').where('image_id', '=', image.id).execute();
    await trx.deleteFrom('tags').where('resource_id', '=', image.id).execute();
  });
  await services.jobs.requestCancel(job.id);
}
