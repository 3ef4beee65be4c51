import type { ImageRow } from '../store/schema.ts';
import type { Services } from './context.ts';
import { isInRegion, type PublicImage } from '../domain/catalog/index.ts';

/**
 * Writes the public catalog into every region it is released to. Idempotent: re-running applies
 * catalog edits (status, names) and adds new entries.
 */
export async function seedPublicImages(services: Pick<Services, 'db' | 'regions' | 'clock'>, systemAccountId: string, catalog: PublicImage[]): Promise<number> {
  const { db, regions } = services;
  const now = services.clock.now();
  let n = 0;
  await db.transaction().execute(async (trx) => {
    for (const img of catalog) {
      for (const region of regions.all) {
        if (!isInRegion(img, region.id)) continue;
        const row: ImageRow = {
          id: img.ImageId,
          region: region.id,
          owner_id: systemAccountId,
          name: img.ImageName,
          description: img.Description,
          family: img.ImageFamily,
          version: img.ImageVersion,
          category: 'system',
          status: img.Status,
          progress: 100,
          os_name: img.OSName,
          os_name_en: img.OSNameEn,
          os_type: img.OSType,
          platform: img.Platform,
          architecture: img.Architecture,
          boot_mode: img.BootMode,
          size_gib: img.Size,
          is_support_cloudinit: img.IsSupportCloudinit ? 1 : 0,
          is_support_io_optimized: img.IsSupportIoOptimized ? 1 : 0,
          product_code: '',
          license_type: '',
          license_class: img.LicenseClass,
          imds_support: 'v2',
          nvme_support: 'supported',
          source_kind: 'catalog',
          source_id: '',
          is_copied: 0,
          encrypted: 0,
          kms_key_id: '',
          is_public: 0,
          error_code: '',
          error_message: '',
          created_at: Date.parse(img.CreationTime),
          updated_at: now,
        };
        const { id, region: _r, created_at: _c, ...mutable } = row;
        await trx.insertInto('images').values(row)
          .onConflict((oc) => oc.columns(['region', 'id']).doUpdateSet({ ...mutable, updated_at: now }))
          .execute();
        n++;
      }
      for (const [idx, d] of img.DiskDeviceMappings.entries()) {
        await trx.insertInto('image_disks')
          .values({ image_id: img.ImageId, idx, type: d.Type, device: d.Device, size_gib: Number(d.Size), snapshot_id: '', format: '', import_bucket: '', import_object: '', progress: 100 })
          .onConflict((oc) => oc.columns(['image_id', 'idx']).doNothing())
          .execute();
      }
    }
  });
  return n;
}
