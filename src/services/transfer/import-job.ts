/**
 * The ImportImage job. Every disk file is opened and inspected first (a bad data disk fails the task before
 * the system disk is read in full), then imported chunk by chunk. Each imported disk's manifest is committed
 * in the same transaction as the checkpoint that records it, so a job resumed after a crash skips finished
 * disks and nothing it committed is ever lost track of. While running, the job holds those manifests; when
 * it ends they pass to the image's new snapshots (success) or are released (failure, cancel).
 */
import fs from 'node:fs/promises';
import type { Transaction } from 'kysely';
import type { Database, JobRow } from '../../store/schema.ts';
import { ApiError, apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import { inspect, openFileSource, openReader, type ClosableByteSource } from '../../formats/index.ts';
import type { Inspection } from '../../formats/types.ts';
import { importDisk } from '../../blobs/importer.ts';
import { retrying } from '../../blobs/chunk-index.ts';
import { ChunkNotLiveError } from '../../blobs/errors.ts';
import { parseJson, type JobContext } from '../../jobs/index.ts';
import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { insertSnapshot, uniqueBytes } from '../snapshots/repo.ts';
import { objectStoreFor } from '../buckets/store.ts';
import { commitManifestIn, newManifestId, releaseManifestIn } from './manifest-tx.ts';
import { ProgressReporter } from './progress.ts';
import { MAX_DISK_GIB, type ImportDiskPlan, type ImportPayload, type ImportedDisk } from './kinds.ts';

const GiB = 1024 ** 3;

type Done = Record<string, ImportedDisk>;

export function importJobKind(services: Services): JobKind {
  return {
    handler: (job, ctx) => runImport(services, job, ctx),
    onFinished: (trx, job) => finishImport(services, trx, job),
  };
}

async function openDisk(services: Services, d: ImportDiskPlan, signal: AbortSignal): Promise<ClosableByteSource> {
  try {
    if (d.upload) return await openFileSource(d.upload);
    return await objectStoreFor(services).openSource(d.bucket, d.key, { signal });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw apiError('ImportImageFailed', 'the uploaded file is no longer on the server; upload it again');
    if (code === 'NoSuchKey') throw apiError('InvalidOSSObject.NotFound');
    if (code === 'NoSuchBucket') throw apiError('InvalidOSSBucket.NotFound');
    throw e;
  }
}

/** The disk's size in GiB: DiskImageSize, which must hold the file's virtual size, or that size rounded up. */
function sizeOf(d: ImportDiskPlan, idx: number, insp: Inspection): number {
  const need = Math.max(1, Math.ceil(insp.virtualSize / GiB));
  const code = idx === 0 ? 'InvalidImageSize' : 'InvalidDataDiskSize';
  const name = `DiskDeviceMapping.${idx + 1}.DiskImageSize`;
  if (need > MAX_DISK_GIB) throw apiError(code, `the image file's virtual size is ${insp.virtualSize} bytes (${need} GiB), more than ${MAX_DISK_GIB} GiB`);
  if (d.sizeGib !== undefined && d.sizeGib < need) {
    throw apiError(code, `${name} is ${d.sizeGib} GiB but the ${insp.format} file's virtual size is ${insp.virtualSize} bytes (${need} GiB); set it to at least ${need}`);
  }
  return d.sizeGib ?? need;
}

async function runImport(services: Services, job: JobRow, ctx: JobContext): Promise<void> {
  const { db } = services;
  const imageId = job.resource_id;
  const { disks } = ctx.payload as unknown as ImportPayload;
  const done: Done = { ...((ctx.state.disks as Done | undefined) ?? {}) };
  await db.updateTable('images').set({ status: 'Creating', updated_at: services.clock.now() })
    .where('id', '=', imageId).where('status', '=', 'Waiting').execute();

  const pending: { idx: number; src: ClosableByteSource; insp: Inspection; sizeGib: number }[] = [];
  try {
    for (const [idx, d] of disks.entries()) {
      if (done[idx]) continue;
      const src = await openDisk(services, d, ctx.signal);
      let insp: Inspection;
      try {
        insp = await inspect(src, { declared: d.format });
        pending.push({ idx, src, insp, sizeGib: sizeOf(d, idx, insp) });
      } catch (e) {
        await src.close();
        throw e;
      }
      await db.updateTable('image_disks').set({ format: insp.format.toUpperCase() }).where('image_id', '=', imageId).where('idx', '=', idx).execute();
    }

    const total = Object.values(done).reduce((n, d) => n + d.virtualSize, 0) + pending.reduce((n, p) => n + p.insp.virtualSize, 0);
    let before = Object.values(done).reduce((n, d) => n + d.virtualSize, 0);
    for (const p of pending) {
      const reporter = new ProgressReporter(ctx, {
        write: async (pct, diskPct) => {
          await db.updateTable('images').set({ progress: pct }).where('id', '=', imageId).execute();
          await db.updateTable('image_disks').set({ progress: diskPct }).where('image_id', '=', imageId).where('idx', '=', p.idx).execute();
        },
      });
      const reader = await openReader(p.src, p.insp);
      const manifest = await importDisk(reader, services.dataPlane.importDeps(job.region), {
        signal: ctx.signal,
        onProgress: (bytes, of) => reporter.report(before + bytes, total, (100 * bytes) / Math.max(1, of)),
      });
      await reporter.flush();
      const entry: ImportedDisk = {
        manifestId: newManifestId(), virtualSize: manifest.virtualSize, sizeGib: p.sizeGib, format: p.insp.format, uniqueBytes: uniqueBytes(manifest),
      };
      await retrying(() => ctx.checkpoint({ disks: { ...done, [p.idx]: entry } }, async (trx) => {
        await commitManifestIn(trx, entry.manifestId, job.region, manifest, services.clock.now());
        await trx.updateTable('image_disks').set({ progress: 100, size_gib: p.sizeGib })
          .where('image_id', '=', imageId).where('idx', '=', p.idx).execute();
      }));
      done[p.idx] = entry;
      before += entry.virtualSize;
    }
  } catch (e) {
    // Chunks collected while a disk was imported (it outlived the GC grace period): importing it again fixes it.
    if (e instanceof ChunkNotLiveError) throw Object.assign(e, { retryable: true });
    throw e;
  } finally {
    await Promise.all(pending.map((p) => p.src.close().catch(() => {})));
  }
  await removeUploads(disks);
}

async function removeUploads(disks: ImportDiskPlan[]): Promise<void> {
  await Promise.all(disks.filter((d) => d.upload).map((d) => fs.rm(d.upload!, { force: true })));
}

/** Runs in the transaction that ends the job: the image becomes Available, CreateFailed or UnAvailable. */
async function finishImport(services: Services, trx: Transaction<Database>, job: JobRow): Promise<void> {
  const done = (parseJson(job.result).disks ?? {}) as Done;
  const now = services.clock.now();
  const imageId = job.resource_id;
  if (job.state !== 'succeeded') {
    for (const d of Object.values(done)) await releaseManifestIn(trx, d.manifestId, now);
    const failed = { status: 'CreateFailed', error_code: job.error_code, error_message: job.error_message };
    await trx.updateTable('images').set({ ...(job.state === 'cancelled' ? { status: 'UnAvailable' } : failed), updated_at: now })
      .where('id', '=', imageId).execute();
    await removeUploads(((parseJson(job.payload) as unknown as ImportPayload).disks ?? []));
    return;
  }
  const region = services.regions.get(job.region);
  if (!region) throw new Error(`unknown region ${job.region}`);
  const disks = await trx.selectFrom('image_disks').selectAll().where('image_id', '=', imageId).orderBy('idx').execute();
  for (const disk of disks) {
    const d = done[disk.idx];
    if (!d) throw new ApiError('InternalError', `import of ${imageId} finished without disk ${disk.idx}`);
    const snapshotId = newResourceId('snapshot', region.infix);
    await insertSnapshot(trx, {
      id: snapshotId,
      region: region.id,
      owner_id: job.account_id,
      manifest_id: d.manifestId,
      description: `Imported for image ${imageId}`,
      source_disk_type: disk.type,
      source_disk_size_gib: d.sizeGib,
      unique_bytes: d.uniqueBytes,
    }, now);
    await trx.updateTable('image_disks').set({ snapshot_id: snapshotId, size_gib: d.sizeGib, format: d.format.toUpperCase(), progress: 100 })
      .where('image_id', '=', imageId).where('idx', '=', disk.idx).execute();
  }
  await trx.updateTable('images').set({ status: 'Available', progress: 100, size_gib: done[0]?.sizeGib ?? 0, updated_at: now })
    .where('id', '=', imageId).execute();
}
