/** Inserts a custom image row directly, for tests of rules that sit above image creation. */
import type { Kysely } from 'kysely';
import type { Database, ImageRow } from '../../src/store/schema.ts';

export async function insertCustomImage(db: Kysely<Database>, row: CustomImage): Promise<ImageRow> {
  const full = customImageRow(row);
  await db.insertInto('images').values(full).execute();
  await db.insertInto('image_disks').values(systemDiskOf(full)).execute();
  return full;
}

type CustomImage = Partial<ImageRow> & Pick<ImageRow, 'id' | 'region' | 'owner_id' | 'name'>;

/** Many custom images in a few statements (rows of 500). */
export async function insertCustomImages(db: Kysely<Database>, rows: CustomImage[]): Promise<void> {
  for (let at = 0; at < rows.length; at += 500) {
    const full = rows.slice(at, at + 500).map(customImageRow);
    await db.insertInto('images').values(full).execute();
    await db.insertInto('image_disks').values(full.map(systemDiskOf)).execute();
  }
}

function customImageRow(row: CustomImage): ImageRow {
  const now = Date.now();
  return {
    description: '', family: '', version: '', category: 'self', status: 'Available', progress: 100, os_name: 'CentOS 7.9 64位',
    os_name_en: 'CentOS 7.9 64 bit', os_type: 'linux', platform: 'CentOS', architecture: 'x86_64', boot_mode: 'BIOS', size_gib: 20,
    is_support_cloudinit: 1, is_support_io_optimized: 1, product_code: '', license_type: '', license_class: 'none', imds_support: 'v1',
    nvme_support: 'unsupported', source_kind: 'snapshot', source_id: '', is_copied: 0, encrypted: 0, kms_key_id: '', is_public: 0,
    error_code: '', error_message: '', created_at: now, updated_at: now, ...row,
  };
}

function systemDiskOf(image: ImageRow) {
  return { image_id: image.id, idx: 0, type: 'system' as const, device: '/dev/xvda', size_gib: image.size_gib, snapshot_id: 's-' + image.id.slice(2), format: '', import_bucket: '', import_object: '', progress: 100 };
}
