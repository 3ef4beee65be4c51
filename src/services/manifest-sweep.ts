/**
 * Reconciles manifest holds after crashes: a manifest committed by a job or a disk write that died before
 * attaching it to a disk or snapshot is held by nobody, and a reader that died leaves a hold whose lease runs
 * out (its hold is given back, whoever else holds the manifest). Once a manifest is older than the grace period and no disk, snapshot, Glance image file (the uploaded bytes
 * of a non-raw image, `glance_images.file_manifest_id`) or live read hold points at it, its holds are dropped,
 * so its chunks become garbage like any other.
 *
 * Several nodes sweep and attach at once. The sweep locks the manifest row before it re-checks, and attaching
 * an existing manifest takes a hold (an update of that row; `lockManifestIn` when a job's own commit hold passes
 * to the snapshot) in the attaching transaction, so on PostgreSQL either the attach commits first and the
 * re-check sees it, or the sweep wins and the hold finds no manifest.
 */
import type { Services } from './context.ts';
import { releaseManifestIn } from './images/manifest-holds.ts';
import { liveReadHolds, reclaimExpiredReadHolds } from '../blobs/read-holds.ts';

/** Rolls back the sweep's lock update when the manifest turned out to be gone or in use. */
class InUse extends Error {}

/** Returns how many holds of dead readers and orphan manifests it released. */
export async function sweepOrphanManifests(services: Pick<Services, 'db' | 'clock'>, opts: { graceMs: number; limit?: number }): Promise<number> {
  const { db } = services;
  const now = services.clock.now();
  const orphans = await db.selectFrom('manifests as m').select('m.id')
    .where('m.created_at', '<', now - opts.graceMs)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('disks as d').select('d.id').whereRef('d.manifest_id', '=', 'm.id'))))
    .where((eb) => eb.not(eb.exists(eb.selectFrom('snapshots as s').select('s.id').whereRef('s.manifest_id', '=', 'm.id'))))
    .where((eb) => eb.not(eb.exists(eb.selectFrom('glance_images as g').select('g.image_id').whereRef('g.file_manifest_id', '=', 'm.id'))))
    .where('m.id', 'not in', liveReadHolds(db, now))
    .limit(opts.limit ?? 500).execute();
  let swept = 0;
  for (const { id } of orphans) {
    try {
      await db.transaction().execute(async (trx) => {
        // Lock first, then re-check: a writer on any node may have attached it, or a reader held it, since.
        const locked = await trx.updateTable('manifests').set({ holders: 1 }).where('id', '=', id).executeTakeFirst();
        if (Number(locked.numUpdatedRows) === 0) throw new InUse();
        const used = await trx.selectFrom('disks').select('id').where('manifest_id', '=', id)
          .union(trx.selectFrom('snapshots').select('id').where('manifest_id', '=', id))
          .union(trx.selectFrom('glance_images').select('image_id as id').where('file_manifest_id', '=', id))
          .union(trx.selectFrom('read_holds').select('id').where('manifest_id', '=', id).where('expires_at', '>', now))
          .executeTakeFirst();
        if (used) throw new InUse();
        await trx.deleteFrom('read_holds').where('manifest_id', '=', id).execute();
        await releaseManifestIn(trx, id, now);
      });
      swept++;
    } catch (e) {
      if (!(e instanceof InUse)) throw e;
    }
  }
  // Then the dead readers' holds on manifests something still points at (an orphan's went with it above).
  return swept + (await reclaimExpiredReadHolds(db, now, opts.limit));
}
