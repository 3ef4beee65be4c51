/**
 * Disk rows and the one way a disk's content changes: an optimistic swap of its manifest. The writer
 * derives a new manifest from the version it read, then `update disks set manifest_id = new,
 * version = version + 1 where id = ? and version = old`; the old manifest's hold is dropped in the same
 * transaction. A writer that lost the race releases its manifest and starts again from the new version.
 * Manifests are immutable, so snapshots and images holding the old one never see the write.
 */
import type { DiskRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import { releaseManifestIn } from '../images/manifest-holds.ts';
import { holdPreparedIn, releaseFresh, type PreparedManifest } from './clone.ts';

/** The caller's disk (its region comes from the ID), or InvalidDiskId.NotFound. */
export async function requireOwnDisk(services: Services, diskId: string, accountId: string): Promise<DiskRow> {
  const region = services.regions.ofResourceId(diskId);
  const disk = region
    ? await services.db.selectFrom('disks').selectAll().where('id', '=', diskId).where('region', '=', region.id).where('owner_id', '=', accountId).executeTakeFirst()
    : undefined;
  if (!disk) throw apiError('InvalidDiskId.NotFound');
  return disk;
}

async function loadDisk(services: Services, id: string): Promise<DiskRow> {
  const disk = await services.db.selectFrom('disks').selectAll().where('id', '=', id).executeTakeFirst();
  if (!disk) throw apiError('InvalidDiskId.NotFound');
  return disk;
}

class LostRace extends Error {}

const MAX_ATTEMPTS = 200;

function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(50, attempt) * Math.random()));
}

/**
 * Replaces the disk's content with the manifest `prepare` derives from the current row, retrying when
 * another writer swapped first (or when `prepare` answers undefined: the row it read is already stale).
 * Returns the disk row as it was swapped from.
 */
export async function swapDiskContent(
  services: Services,
  diskId: string,
  prepare: (disk: DiskRow) => Promise<PreparedManifest | undefined>,
  patch: Partial<Pick<DiskRow, 'source_image_id' | 'source_image_owner_id' | 'source_snapshot_id'>> = {},
): Promise<DiskRow> {
  for (let attempt = 1; ; attempt++) {
    if (attempt > MAX_ATTEMPTS) throw apiError('Operation.Conflict');
    const disk = await loadDisk(services, diskId);
    const next = await prepare(disk);
    if (!next) {
      await backoff(attempt);
      continue;
    }
    try {
      await services.db.transaction().execute(async (trx) => {
        await holdPreparedIn(trx, [next]);
        const res = await trx.updateTable('disks')
          .set((eb) => ({ ...patch, manifest_id: next.id, version: eb('version', '+', 1), updated_at: services.clock.now() }))
          .where('id', '=', disk.id).where('version', '=', disk.version).executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) throw new LostRace();
        await releaseManifestIn(trx, disk.manifest_id, services.clock.now());
      });
      return disk;
    } catch (e) {
      await releaseFresh(services, [next]);
      if (!(e instanceof LostRace)) throw e;
      await backoff(attempt);
    }
  }
}

/** Deletes disk rows and drops their manifest holds, inside the caller's transaction. */
export async function deleteDisksIn(trx: Parameters<typeof releaseManifestIn>[0], disks: DiskRow[], now: number): Promise<void> {
  for (const d of disks) {
    await trx.deleteFrom('disks').where('id', '=', d.id).execute();
    await trx.deleteFrom('tags').where('resource_id', '=', d.id).execute();
    await releaseManifestIn(trx, d.manifest_id, now);
  }
}
