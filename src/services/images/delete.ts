import { apiError } from '../../domain/errors.ts';
import { isShared, requireOwnImage } from './modify.ts';
import { activeJobKind } from '../../jobs/index.ts';
import { JOB_KIND } from '../job-kinds.ts';
import { imagesInUse } from './in-use.ts';
import type { Services } from '../context.ts';
import { releaseManifestIn } from './manifest-holds.ts';

/**
 * DeleteImage: the image disappears from every listing; its snapshots stay (their Usage no longer says
 * `image`), so their chunks stay referenced until the snapshots are deleted. Disks made from the image keep
 * working, but ReInitDisk on them fails from now on.
 */
export async function deleteImage(services: Pick<Services, 'db' | 'clock'>, input: { region: string; imageId: string; owner: string; force: boolean; dryRun?: boolean },
): Promise<void> {
  const { db } = services;
  const image = await requireOwnImage(services, input.region, input.imageId, input.owner);
  switch (await activeJobKind(db, image.id)) {
    case JOB_KIND.importImage: throw apiError('ImageIsImporting');
    case JOB_KIND.exportImage: throw apiError('ImageIsExporting');
    case JOB_KIND.copyImage: throw apiError('OperationDenied.ImageCopying');
    case JOB_KIND.createImage: throw apiError('InvalidStatus.ImageIsCreating');
  }
  if (image.is_public) throw apiError('ImageIsPublic');
  if (await isShared(services, image.id)) throw apiError('ImageUseShared');
  if (!input.force && (await imagesInUse(services, image.region, [image.id])).size > 0) throw apiError('ImageUsingByInstance');
  if (input.dryRun) throw apiError('DryRunOperation');
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('images').where('region', '=', image.region).where('id', '=', image.id).execute();
    await trx.deleteFrom('image_disks').where('image_id', '=', image.id).execute();
    await trx.deleteFrom('tags').where('resource_id', '=', image.id).execute();
    // What Glance kept about the image: its members, and the manifest of the bytes as uploaded.
    const glance = await trx.selectFrom('glance_images').select('file_manifest_id').where('image_id', '=', image.id).executeTakeFirst();
    if (glance?.file_manifest_id) await releaseManifestIn(trx, glance.file_manifest_id, services.clock.now());
    await trx.deleteFrom('glance_images').where('image_id', '=', image.id).execute();
    await trx.deleteFrom('glance_members').where('image_id', '=', image.id).execute();
  });
}
