/**
 * DeleteSnapshot: refused while a custom image uses the snapshot (SnapshotCreatedImage), and, unless
 * forced, while disks made from it exist (SnapshotCreatedDisk: those disks could not be re-initialised).
 * The row goes and its manifest hold is dropped in one transaction; the image check runs in that same
 * transaction so that an image created concurrently cannot end up pointing at a deleted snapshot.
 */
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import { releaseManifestIn } from '../images/manifest-holds.ts';
import { requireOwnSnapshot } from './lookup.ts';
import { recordSnapshotsGoneIn } from '../billing/lifecycle.ts';

export async function deleteSnapshot(services: Services, input: { accountId: string; snapshotId: string; force?: boolean }): Promise<void> {
  const snap = await requireOwnSnapshot(services, input.snapshotId, input.accountId);
  await services.db.transaction().execute(async (trx) => {
    const image = await trx.selectFrom('image_disks').select('image_id').where('snapshot_id', '=', snap.id).limit(1).executeTakeFirst();
    if (image) throw apiError('SnapshotCreatedImage');
    if (!input.force) {
      const disk = await trx.selectFrom('disks').select('id').where('source_snapshot_id', '=', snap.id).limit(1).executeTakeFirst();
      if (disk) throw apiError('SnapshotCreatedDisk');
    }
    const gone = await trx.deleteFrom('snapshots').where('id', '=', snap.id).executeTakeFirst();
    if (Number(gone.numDeletedRows) !== 1) throw apiError('InvalidSnapshotId.NotFound');
    await trx.deleteFrom('tags').where('resource_id', '=', snap.id).execute();
    await recordSnapshotsGoneIn(trx, [snap], services.clock.now());
    await releaseManifestIn(trx, snap.manifest_id, services.clock.now());
  });
}
