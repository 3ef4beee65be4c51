import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { isShared, requireOwnImage } from './modify.ts';
import { activeJobKind } from '../../jobs/index.ts';

/**
 * DeleteImage: the image disappears from every listing; its snapshots stay (their Usage no longer says
 * `image`), so their chunks stay referenced until the snapshots are deleted. Disks made from the image keep
 * working, but ReInitDisk on them fails from now on.
 */
export async function deleteImage(
  db: Kysely<Database>,
  input: { region: string; imageId: string; owner: string; force: boolean; dryRun?: boolean; inUse(): Promise<boolean> },
): Promise<void> {
  const image = await requireOwnImage(db, input.region, input.imageId, input.owner);
  switch (await activeJobKind(db, image.id)) {
    case 'ImportImage': throw apiError('ImageIsImporting');
    case 'ExportImage': throw apiError('ImageIsExporting');
    case 'CopyImage': throw apiError('OperationDenied.ImageCopying');
    case 'CreateImage': throw apiError('InvalidStatus.ImageIsCreating');
  }
  if (image.is_public) throw apiError('ImageIsPublic');
  if (await isShared(db, image.id)) throw apiError('ImageUseShared');
  if (!input.force && (await input.inUse())) throw apiError('ImageUsingByInstance');
  if (input.dryRun) throw apiError('DryRunOperation');
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('images').where('region', '=', image.region).where('id', '=', image.id).execute();
    await trx.deleteFrom('image_disks').where('image_id', '=', image.id).execute();
    await trx.deleteFrom('tags').where('resource_id', '=', image.id).execute();
  });
}
