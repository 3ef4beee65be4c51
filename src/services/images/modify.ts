import type { ImageRow } from '../../store/schema.ts';
import { ApiError, apiError } from '../../domain/errors.ts';
import { checkDescription, checkImageFamily, checkImageName } from '../../domain/image-rules.ts';
import type { Services } from '../context.ts';

/** The caller's own custom image in the region, or InvalidImageId.NotFound (revealing nothing about others' images). */
export async function requireOwnImage(services: Pick<Services, 'db'>, region: string, id: string, owner: string): Promise<ImageRow> {
  const { db } = services;
  const row = await db.selectFrom('images').selectAll().where('region', '=', region).where('id', '=', id)
    .where('owner_id', '=', owner).where('category', '=', 'self').executeTakeFirst();
  if (!row) throw apiError('InvalidImageId.NotFound');
  return row;
}

export async function isShared(services: Pick<Services, 'db'>, imageId: string): Promise<boolean> {
  const { db } = services;
  return !!(await db.selectFrom('image_shares').select('image_id').where('image_id', '=', imageId).limit(1).executeTakeFirst());
}

export async function assertNameFree(services: Pick<Services, 'db'>, region: string, owner: string, name: string, exceptId?: string): Promise<void> {
  const { db } = services;
  let q = db.selectFrom('images').select('id').where('region', '=', region).where('owner_id', '=', owner).where('name', '=', name);
  if (exceptId) q = q.where('id', '!=', exceptId);
  if (await q.executeTakeFirst()) throw apiError('InvalidImageName.Duplicated');
}

export interface ImageAttributeChange {
  name?: string;
  description?: string;
  family?: string;
  bootMode?: string;
  licenseType?: string;
  imdsSupport?: string;
  nvmeSupport?: string;
  status?: 'Available' | 'Deprecated';
}

export async function modifyImageAttribute(services: Pick<Services, 'db' | 'clock'>, input: { region: string; imageId: string; owner: string; change: ImageAttributeChange; dryRun?: boolean },
): Promise<void> {
  const { db } = services;
  const now = services.clock.now();
  const image = await requireOwnImage(services, input.region, input.imageId, input.owner);
  const c = input.change;
  if (image.status === 'Creating' || image.status === 'Waiting') throw apiError('InvalidStatus.ImageIsCreating');
  if (c.name !== undefined) {
    checkImageName(c.name);
    await assertNameFree(services, input.region, input.owner, c.name, image.id);
  }
  if (c.description !== undefined) checkDescription(c.description);
  if (c.family !== undefined && c.family !== '') checkImageFamily(c.family);
  if (c.licenseType !== undefined && c.licenseType !== 'BYOL') throw apiError('InvalidLicenseType.NotSupported');
  if (c.imdsSupport === 'v1' && image.imds_support === 'v2') throw apiError('InvalidOperation.FeaturesImdsSupportNotMatch');
  if (c.bootMode !== undefined && image.architecture === 'arm64' && c.bootMode !== 'UEFI') throw apiError('InvalidBootMode.NotSupport');
  if (c.status === 'Deprecated') {
    if (image.status !== 'Available' && image.status !== 'Deprecated') throw apiError('ImageStatus.NotAvailable');
    if (await isShared(services, image.id)) {
      throw new ApiError('ImageUseShared', 'The specified image has been shared to others, please remove shared accounts first.');
    }
  }
  if (c.status === 'Available' && image.status !== 'Deprecated' && image.status !== 'Available') throw apiError('ImageStatus.NotDeprecated');
  if (input.dryRun) throw apiError('DryRunOperation');

  const patch: Partial<ImageRow> = { updated_at: now };
  if (c.name !== undefined) patch.name = c.name;
  if (c.description !== undefined) patch.description = c.description;
  if (c.family !== undefined) patch.family = c.family;
  if (c.bootMode !== undefined) patch.boot_mode = c.bootMode;
  if (c.licenseType !== undefined) patch.license_type = c.licenseType;
  if (c.imdsSupport !== undefined) patch.imds_support = c.imdsSupport;
  if (c.nvmeSupport !== undefined) patch.nvme_support = c.nvmeSupport;
  if (c.status !== undefined) patch.status = c.status;
  await db.updateTable('images').set(patch).where('region', '=', input.region).where('id', '=', image.id).execute();
}
