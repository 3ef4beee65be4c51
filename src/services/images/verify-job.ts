/**
 * The CreateImage job: an image made from snapshots shares their chunks (no bytes are copied), so the work
 * is to prove every chunk is live in the region's store before the image turns Available.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { manifestRefs } from '../../blobs/manifests.ts';

async function manifestIdsOf(db: Kysely<Database>, imageId: string): Promise<string[]> {
  const rows = await db.selectFrom('image_disks as d').innerJoin('snapshots as s', 's.id', 'd.snapshot_id')
    .select('s.manifest_id').where('d.image_id', '=', imageId).orderBy('d.idx').execute();
  return rows.map((r) => r.manifest_id);
}

export function createImageJob(services: Services): JobKind {
  const { db } = services;
  return {
    async handler(job, ctx) {
      const region = job.region;
      await db.updateTable('images').set({ status: 'Creating', updated_at: services.clock.now() })
        .where('region', '=', region).where('id', '=', job.resource_id).where('status', '=', 'Waiting').execute();
      const refs = new Set<string>();
      for (const id of await manifestIdsOf(db, job.resource_id)) {
        const m = await services.dataPlane.manifests.load(id);
        if (!m) throw apiError('InvalidSnapshotId.NotFound');
        for (const r of manifestRefs(m.manifest)) refs.add(r);
      }
      const all = [...refs];
      for (let i = 0; i < all.length; i += 500) {
        ctx.signal.throwIfAborted();
        const batch = all.slice(i, i + 500);
        const live = await db.selectFrom('chunks').select('ref').where('region', '=', region).where('ref', 'in', batch).where('state', '=', 'live').execute();
        if (live.length !== batch.length) throw Object.assign(new Error(`${batch.length - live.length} chunks of the source snapshots are missing`), { code: 'InternalError' });
        const pct = Math.floor(((i + batch.length) / all.length) * 100);
        await ctx.progress(pct);
        await db.updateTable('images').set({ progress: pct }).where('region', '=', region).where('id', '=', job.resource_id).execute();
      }
      return { chunks: all.length };
    },
    async onFinished(trx, job) {
      const now = services.clock.now();
      const where = trx.updateTable('images').where('region', '=', job.region).where('id', '=', job.resource_id);
      if (job.state === 'succeeded') await where.set({ status: 'Available', progress: 100, updated_at: now }).execute();
      else await where.set({ status: 'CreateFailed', error_code: job.error_code || 'Cancelled', error_message: job.error_message, updated_at: now }).execute();
      await trx.updateTable('image_disks').set({ progress: job.state === 'succeeded' ? 100 : 0 }).where('image_id', '=', job.resource_id).execute();
    },
  };
}
