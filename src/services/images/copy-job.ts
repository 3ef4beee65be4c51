/** The CopyImage job: transfer missing chunks, commit manifests and snapshots in the destination, disk by disk. */
import type { Transaction } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import { copyManifest } from '../../blobs/importer.ts';
import { ChunkNotLiveError } from '../../blobs/errors.ts';
import { holdForRead } from '../../blobs/read-holds.ts';
import { newManifestId } from '../../blobs/manifests.ts';
import type { Manifest } from '../../blobs/types.ts';
import { parseJson, type JobRow } from '../../jobs/index.ts';
import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { insertSnapshot, uniqueBytes } from '../snapshots/repo.ts';
import { dropSnapshotsIn, lockManifestIn, releaseManifestIn } from './manifest-holds.ts';
import { JOB_KIND } from '../job-kinds.ts';

/** Concurrent copies into one region; the rest wait (their images show `Waiting`). */
export const COPIES_PER_REGION = 5;

interface DiskState {
  manifestId?: string;
  snapshotId?: string;
  done?: boolean;
}

function disksOf(job: Pick<JobRow, 'result'>): Record<string, DiskState> {
  return (parseJson(job.result).disks as Record<string, DiskState> | undefined) ?? {};
}

export function copyImageJob(services: Services): JobKind {
  const { db, dataPlane } = services;

  async function busySlots(job: JobRow): Promise<number> {
    const { n } = await db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('kind', '=', JOB_KIND.copyImage)
      .where('region', '=', job.region).where('state', '=', 'running').where('id', '!=', job.id)
      .where('lease_until', '>', services.clock.now()).executeTakeFirstOrThrow();
    return Number(n);
  }

  /**
   * Copies one source manifest into the region as `manifestId` (unless a crashed attempt committed it already).
   * The source image and snapshot may be deleted meanwhile: a read hold keeps their chunks until the copy ends.
   */
  async function copyDisk(sourceManifestId: string, manifestId: string, region: string, signal: AbortSignal): Promise<Manifest> {
    const hold = await holdForRead(db, sourceManifestId, () => services.clock.now());
    if (!hold) throw Object.assign(apiError('InvalidSnapshotId.NotFound'), { vanished: true });
    try {
      const source = await dataPlane.manifests.load(sourceManifestId);
      if (!source) throw new Error(`manifest ${sourceManifestId} vanished while held`);
      if (await dataPlane.manifests.load(manifestId)) return source.manifest;
      const from = dataPlane.store(source.region);
      const to = { store: dataPlane.store(region), index: dataPlane.index, region, manifests: dataPlane.manifests };
      await copyManifest(source.manifest, from, to, { id: manifestId, signal, buffers: dataPlane.buffers, hashPool: dataPlane.hashPool });
      return source.manifest;
    } catch (e) {
      // GC kept collecting the chunks before the commit (a grace period far shorter than a copy): a later attempt may fit.
      if (e instanceof ChunkNotLiveError) throw Object.assign(e, { retryable: true });
      throw e;
    } finally {
      await hold.release();
    }
  }

  return {
    async handler(job, ctx) {
      const payload = ctx.payload as { sourceRegion: string; sourceImageId: string; snapshotIds: string[] };
      const image = await db.selectFrom('images').select('id').where('region', '=', job.region).where('id', '=', job.resource_id).executeTakeFirst();
      if (!image) return { cancelled: true }; // CancelCopyImage removed it; onFinished cleans up
      if ((await busySlots(job)) >= COPIES_PER_REGION) {
        throw Object.assign(new Error(`waiting for one of ${COPIES_PER_REGION} copy slots in ${job.region}`), { code: 'CopyQueued', retryable: true });
      }
      await db.updateTable('images').set({ status: 'Creating', updated_at: services.clock.now() })
        .where('region', '=', job.region).where('id', '=', job.resource_id).where('status', '=', 'Waiting').execute();

      const disks = disksOf(job);
      const infix = services.regions.require(job.region).infix;
      for (const [idx, sourceSnapshotId] of payload.snapshotIds.entries()) {
        if (disks[idx]?.done) continue;
        ctx.signal.throwIfAborted();
        if (!sourceSnapshotId) { disks[idx] = { done: true }; continue; } // an empty data disk has no bytes
        const snap = await db.selectFrom('snapshots').selectAll().where('id', '=', sourceSnapshotId).executeTakeFirst();
        if (!snap) throw Object.assign(apiError('InvalidSnapshotId.NotFound'), { vanished: true });
        const manifestId = disks[idx]?.manifestId ?? newManifestId();
        disks[idx] = { manifestId };
        await ctx.checkpoint({ disks });
        const copied = await copyDisk(snap.manifest_id, manifestId, job.region, ctx.signal);
        const snapshotId = newResourceId('snapshot', infix);
        disks[idx] = { manifestId, snapshotId, done: true };
        await ctx.checkpoint({ disks }, async (trx) => {
          // A job resumed after the grace period finds its manifest old and unattached, as the manifest sweep does:
          // the lock orders the two, and a manifest swept meanwhile is copied again on the next attempt.
          if (!(await lockManifestIn(trx, manifestId))) {
            throw Object.assign(new Error(`manifest ${manifestId} of disk ${idx} is gone`), { retryable: true });
          }
          await insertSnapshot(trx, {
            id: snapshotId, region: job.region, owner_id: job.account_id, manifest_id: manifestId, name: `copy-${sourceSnapshotId}`,
            description: `Copied from ${sourceSnapshotId} in ${payload.sourceRegion} for image ${job.resource_id}`,
            source_disk_type: snap.source_disk_type, source_disk_size_gib: snap.source_disk_size_gib, source_snapshot_id: snap.id,
            source_region: payload.sourceRegion, unique_bytes: uniqueBytes(copied),
          }, services.clock.now());
          await trx.updateTable('image_disks').set({ snapshot_id: snapshotId, progress: 100 }).where('image_id', '=', job.resource_id).where('idx', '=', idx).execute();
        });
        const pct = Math.floor(((idx + 1) / payload.snapshotIds.length) * 100);
        await ctx.progress(pct);
        await db.updateTable('images').set({ progress: pct }).where('region', '=', job.region).where('id', '=', job.resource_id).execute();
      }
      return { disks };
    },

    async onFinished(trx, job) {
      const now = services.clock.now();
      const image = await trx.selectFrom('images').select('id').where('region', '=', job.region).where('id', '=', job.resource_id).executeTakeFirst();
      if (job.state === 'succeeded' && image) {
        await trx.updateTable('images').set({ status: 'Available', progress: 100, updated_at: now }).where('region', '=', job.region).where('id', '=', job.resource_id).execute();
        return;
      }
      await undo(trx, job, now);
      if (!image) return;
      if (job.state === 'cancelled') {
        await trx.deleteFrom('images').where('region', '=', job.region).where('id', '=', job.resource_id).execute();
        await trx.deleteFrom('image_disks').where('image_id', '=', job.resource_id).execute();
        await trx.deleteFrom('tags').where('resource_id', '=', job.resource_id).execute();
      } else {
        const status = job.error_code === 'InvalidSnapshotId.NotFound' ? 'UnAvailable' : 'CreateFailed';
        await trx.updateTable('images').set({ status, error_code: job.error_code, error_message: job.error_message, updated_at: now })
          .where('region', '=', job.region).where('id', '=', job.resource_id).execute();
      }
    },
  };
}

/** Releases what a failed or cancelled copy made: its snapshots and any manifest not yet attached to one. */
async function undo(trx: Transaction<Database>, job: JobRow, now: number): Promise<void> {
  const disks = Object.values(disksOf(job));
  await dropSnapshotsIn(trx, disks.flatMap((d) => (d.snapshotId ? [d.snapshotId] : [])), now);
  for (const d of disks) if (d.manifestId && !d.snapshotId) await releaseManifestIn(trx, d.manifestId, now);
  await trx.updateTable('image_disks').set({ snapshot_id: '' }).where('image_id', '=', job.resource_id).execute();
}
