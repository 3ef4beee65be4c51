/** Custom image rows, shared by CreateImage, ImportImage and CopyImage. */
import type { Kysely } from 'kysely';
import type { Database, ImageDiskRow, ImageRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { lockAccountIn } from '../../store/locks.ts';
import type { Tag } from '../../domain/image-rules.ts';
import type { Services } from '../context.ts';

export type NewImage = Pick<ImageRow, 'id' | 'region' | 'owner_id' | 'name'> & Partial<ImageRow>;
export type NewImageDisk = Pick<ImageDiskRow, 'type' | 'device' | 'size_gib'> & Partial<ImageDiskRow>;

/** Custom images of an account in a region count against its quota (shared images do not). */
export async function assertImageQuota(services: Pick<Services, 'db'>, region: string, owner: string, quota: number): Promise<void> {
  await assertImageQuotaOn(services.db, region, owner, quota);
}

async function assertImageQuotaOn(db: Kysely<Database>, region: string, owner: string, quota: number): Promise<void> {
  const { n } = await db.selectFrom('images').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('region', '=', region).where('owner_id', '=', owner).where('category', '=', 'self').executeTakeFirstOrThrow();
  if (Number(n) >= quota) throw apiError('QuotaExceed.Image');
}

/**
 * Inserts an image with its disks and tags. With `quota`, the quota is checked again here, under the owner's
 * row lock, so that concurrent creates on several nodes cannot pass the caller's early check together.
 */
export async function insertImage(db: Kysely<Database>, image: NewImage, disks: NewImageDisk[], tags: Tag[], now: number, quota?: number): Promise<ImageRow> {
  if (quota !== undefined) {
    await lockAccountIn(db, image.owner_id);
    await assertImageQuotaOn(db, image.region, image.owner_id, quota);
  }
  const row: ImageRow = {
    description: '', family: '', version: '', category: 'self', status: 'Creating', progress: 0, os_name: '', os_name_en: '',
    os_type: 'linux', platform: 'Others Linux', architecture: 'x86_64', boot_mode: 'BIOS', size_gib: disks[0]?.size_gib ?? 0,
    is_support_cloudinit: 1, is_support_io_optimized: 1, product_code: '', license_type: '', license_class: 'none', imds_support: 'v1',
    nvme_support: 'unsupported', source_kind: '', source_id: '', is_copied: 0, encrypted: 0, kms_key_id: '', is_public: 0,
    error_code: '', error_message: '', created_at: now, updated_at: now, image_kind: 'system', share_family: '', ...image,
  };
  await db.insertInto('images').values(row).execute();
  if (disks.length) {
    await db.insertInto('image_disks').values(disks.map((d, idx) => ({
      image_id: row.id, idx, snapshot_id: '', format: '', import_bucket: '', import_object: '', progress: 0, ...d,
    }))).execute();
  }
  if (tags.length) {
    await db.insertInto('tags').values(tags.map((t) => ({ resource_id: row.id, resource_type: 'image', tag_key: t.key, tag_value: t.value }))).execute();
  }
  return row;
}

/** Human-readable OS names for a custom image from its platform and architecture. */
export function osNames(platform: string, architecture: string): { os_name: string; os_name_en: string } {
  const bits = architecture === 'i386' ? '32' : '64';
  return { os_name: `${platform} ${bits}位`, os_name_en: `${platform} ${bits} bit` };
}
