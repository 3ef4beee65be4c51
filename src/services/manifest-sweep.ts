/**
 * Reconciles manifest holds after crashes: a manifest committed by a job or a disk write that died before
 * attaching it to a disk or snapshot is held by nobody. Once it is older than the grace period and no disk
 * or snapshot points at it, its hold is dropped, so its chunks become garbage like any other.
 */
import type { Services } from './context.ts';
import { releaseManifestIn } from './images/manifest-holds.ts';

export async function sweepOrphanManifests(services: Pick<Services, 'db' | 'clock'>, opts: { graceMs: number; limit?: number }): Promise<number> {
  const { db } = services;
  const now = services.clock.now();
  const orphans = await db.selectFrom('manifests as m').select('m.id')
    .where('m.created_at', '<', now - opts.graceMs)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('disks as d').select('d.id').whereRef('d.manifest_id', '=', 'm.id'))))
    .where((eb) => eb.not(eb.exists(eb.selectFrom('snapshots as s').select('s.id').whereRef('s.manifest_id', '=', 'm.id'))))
    .limit(opts.limit ?? 500).execute();
  for (const { id } of orphans) {
    await db.transaction().execute(async (trx) => {
      // Re-check inside the transaction: a writer may have attached it since.
      const used = await trx.selectFrom('disks').select('id').where('manifest_id', '=', id)
        .union(trx.selectFrom('snapshots').select('id').where('manifest_id', '=', id)).executeTakeFirst();
      if (used) return;
      await trx.updateTable('manifests').set({ holders: 1 }).where('id', '=', id).execute();
      await releaseManifestIn(trx, id, now);
    });
  }
  return orphans.length;
}
