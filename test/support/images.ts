/** Inserts a custom image row directly, for tests of rules that sit above image creation. */
import type { Kysely } from 'kysely';
import type { Database, ImageRow } from '../../src/store/schema.ts';

export async function insertCustomImage(db: Kysely<Database>, row: Partial<ImageRow> & Pick<ImageRow, 'id' | 'region' | 'owner_id' | 'name'>): Promise<ImageRow> {
  const now = Date.now();
  const full: ImageRow = {
    description: '', family: '', version: '', category: 'self', status: 'Available', progress: 100, os_name: 'CentOS 7.9 64位',
    os_name_en: 'CentOS 7.9 64 bit', os_type: 'linux', platform: 'CentOS', architecture: 'x86_64', boot_mode: 'BIOS', size_gib: 20,
    is_support_cloudinit: 1, is_support_io_optimized: 1, product_code: '', license_type: '', license_class: 'none', imds_support: 'v1',
    nvme_support: 'unsupported', source_kind: 'snapshot', source_id: '', is_copied: 0, encrypted: 0, kms_key_id: '', is_public: 0,
    error_code: '', error_message: '', created_at: now, updated_at: now, ...row,
  };
  await db.insertInto('images').values(full).execute();
  await db.insertInto('image_disks').values({ image_id: full.id, idx: 0, type: 'system', device: '/dev/xvda', size_gib: full.size_gib, snapshot_id: 's-' + full.id.slice(2), format: '', import_bucket: '', import_object: '', progress: 100 }).execute();
  return full;
}
