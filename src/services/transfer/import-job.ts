/**
 * The ImportImage job. Every disk file still to import is opened and inspected first (a bad data disk fails
 * the task before the system disk is read in full), then imported chunk by chunk. Per disk, the manifest's
 * id is checkpointed before it is committed, and a snapshot holding it is attached in the next checkpoint,
 * so a job resumed after a crash skips finished disks, attaches a manifest committed just before the crash,
 * and never loses track of what it stored. A failed or cancelled import drops those snapshots again.
 */
import fs from 'node:fs/promises';
import type { Transaction } from 'kysely';
import type { Database, JobRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import { inspect, openFileSource, openReader, type ClosableByteSource } from '../../formats/index.ts';
import type { Inspection } from '../../formats/types.ts';
import { importDisk } from '../../blobs/importer.ts';
import { ManifestRepo, newManifestId } from '../../blobs/manifests.ts';
import { ChunkNotLiveError } from '../../blobs/errors.ts';
import type { Manifest } from '../../blobs/types.ts';
import { parseJson, type JobContext } from '../../jobs/index.ts';
import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { insertSnapshot, uniqueBytes } from '../snapshots/repo.ts';
import { dropSnapshotsIn, lockManifestIn, releaseManifestIn } from '../images/manifest-holds.ts';
import { ProgressReporter } from './progress.ts';
import { memoSource, recalledImport, rememberImportIn } from './import-memo.ts';
import type { ObjectVersion } from '../buckets/object-store.ts';
import { MAX_DISK_GIB } from '../../domain/image-rules.ts';
import { type ImportDiskPlan, type ImportPayload, type ImportedDisk } from './kinds.ts';

const GiB = 1024 ** 3;

type Done = Record<string, ImportedDisk>;

export function importJobKind(services: Services): JobKind {
  return {
    handler: (job, ctx) => runImport(services, job, ctx),
    onFinished: (trx, job) => finishImport(services, trx, job),
  };
}

/** A disk's file, and which version of the bucket object it reads (none for a direct upload). */
type DiskSource = ClosableByteSource & { version?: ObjectVersion };

async function openDisk(services: Services, d: ImportDiskPlan, signal: AbortSignal): Promise<DiskSource> {
  try {
    if (d.upload) return await openFileSource(d.upload, { direct: true });
    return await services.objects.openSource(d.bucket, d.key, { signal });
  } catch (e) {
    throw missingSource(e);
  }
}

function missingSource(e: unknown): unknown {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return apiError('ImportImageFailed', 'the uploaded file is no longer on the server; upload it again');
  if (code === 'NoSuchKey') return apiError('InvalidOSSObject.NotFound');
  if (code === 'NoSuchBucket') return apiError('InvalidOSSBucket.NotFound');
  return e;
}

/** The manifest a memo named was freed before this import could hold it: the disk is imported normally. */
class RememberedManifestGone extends Error {}

/** The disk's size in GiB: DiskImageSize, which must hold the file's virtual size, or that size rounded up. */
function sizeOf(d: ImportDiskPlan, idx: number, insp: Pick<Inspection, 'virtualSize' | 'format'>): number {
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
  const { db, dataPlane } = services;
  const imageId = job.resource_id;
  const { disks } = ctx.payload as unknown as ImportPayload;
  const done: Done = { ...((ctx.state.disks as Done | undefined) ?? {}) };
  const infix = services.regions.require(job.region).infix;
  await db.updateTable('images').set({ status: 'Creating', updated_at: services.clock.now() })
    .where('id', '=', imageId).where('status', '=', 'Waiting').execute();

  /**
   * Records the disk, then gives it a snapshot (which holds its manifest from then on). `recalled`: the manifest is
   * an earlier import's (import-memo.ts), so the snapshot takes a new hold instead of the job's commit hold.
   * `remember`: the memo source the manifest is remembered under.
   */
  const attach = async (idx: number, entry: ImportedDisk, opts: { recalled?: boolean; remember?: string } = {}) => {
    const snapshotId = newResourceId('snapshot', infix);
    await ctx.checkpoint({ disks: { ...done, [idx]: { ...entry, snapshotId } } }, async (trx) => {
      if (opts.recalled) {
        if (!(await new ManifestRepo(trx).hold(entry.manifestId))) throw new RememberedManifestGone();
      } else if (!(await lockManifestIn(trx, entry.manifestId))) {
        // A manifest committed long ago and never attached may have been swept meanwhile (or be in a sweep on another
        // node right now: the lock waits for it): import it again.
        throw Object.assign(new Error(`manifest ${entry.manifestId} of disk ${idx} is gone`), { retryable: true });
      }
      if (opts.remember) await rememberImportIn(trx, job.region, opts.remember, entry, services.clock.now());
      await insertSnapshot(trx, {
        id: snapshotId, region: job.region, owner_id: job.account_id, manifest_id: entry.manifestId,
        description: `Imported for image ${imageId}`, source_disk_type: idx === 0 ? 'system' : 'data',
        source_disk_size_gib: entry.sizeGib, unique_bytes: entry.uniqueBytes,
      }, services.clock.now());
      await trx.updateTable('image_disks').set({ snapshot_id: snapshotId, size_gib: entry.sizeGib, format: entry.format.toUpperCase(), progress: 100 })
        .where('image_id', '=', imageId).where('idx', '=', idx).execute();
    });
    done[idx] = { ...entry, snapshotId };
  };

  /** Attaches what an earlier import made of this very object version, if its manifest is still alive. */
  const recall = async (idx: number, d: ImportDiskPlan): Promise<boolean> => {
    if (d.upload) return false;
    const version = await services.objects.version(d.bucket, d.key).catch((e) => Promise.reject(missingSource(e)));
    const made = await recalledImport(db, job.region, memoSource(version, d.format));
    if (!made) return false;
    try {
      await attach(idx, { ...made, sizeGib: sizeOf(d, idx, made) }, { recalled: true });
      return true;
    } catch (e) {
      if (e instanceof RememberedManifestGone) return false;
      throw e;
    }
  };

  const pending: { idx: number; src: DiskSource; insp: Inspection; sizeGib: number }[] = [];
  try {
    for (const [idx, d] of disks.entries()) {
      const prior = done[idx];
      if (prior?.snapshotId) continue;
      if (prior && (await dataPlane.manifests.load(prior.manifestId))) {
        await attach(idx, prior); // committed just before a crash
        continue;
      }
      if (!prior && (await recall(idx, d))) continue;
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

    const finished = Object.values(done).filter((d) => d.snapshotId).reduce((n, d) => n + d.virtualSize, 0);
    const total = finished + pending.reduce((n, p) => n + p.insp.virtualSize, 0);
    let before = finished;
    for (const p of pending) {
      const manifest = await importOne(services, job, ctx, p, before, total);
      const entry: ImportedDisk = {
        manifestId: done[p.idx]?.manifestId ?? newManifestId(),
        virtualSize: manifest.virtualSize, sizeGib: p.sizeGib, format: p.insp.format, uniqueBytes: uniqueBytes(manifest),
      };
      await ctx.checkpoint({ disks: { ...done, [p.idx]: entry } });
      done[p.idx] = entry;
      await dataPlane.manifests.commit(job.region, manifest, { id: entry.manifestId });
      const { version } = p.src;
      await attach(p.idx, entry, { remember: version?.settled ? memoSource(version, disks[p.idx].format) : undefined });
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

/** Imports one inspected disk file into the region's chunk store, reporting progress as bytes go in. */
async function importOne(
  services: Services, job: JobRow, ctx: JobContext,
  p: { idx: number; src: DiskSource; insp: Inspection }, before: number, total: number,
): Promise<Manifest> {
  const { db } = services;
  const reporter = new ProgressReporter(ctx, {
    write: async (pct, diskPct) => {
      await db.updateTable('images').set({ progress: pct }).where('id', '=', job.resource_id).execute();
      await db.updateTable('image_disks').set({ progress: diskPct }).where('image_id', '=', job.resource_id).where('idx', '=', p.idx).execute();
    },
  });
  const { buffers } = services.dataPlane;
  const manifest = await importDisk(await openReader(p.src, p.insp, { allocate: (n) => buffers.acquire(n), deferReads: true }), services.dataPlane.importDeps(job.region), {
    signal: ctx.signal,
    buffers,
    onProgress: (bytes, of) => reporter.report(before + bytes, total, (100 * bytes) / Math.max(1, of)),
  });
  await reporter.flush();
  return manifest;
}

async function removeUploads(disks: ImportDiskPlan[]): Promise<void> {
  await Promise.all(disks.filter((d) => d.upload).map((d) => fs.rm(d.upload!, { force: true })));
}

/** Runs in the transaction that ends the job: the image becomes Available, CreateFailed or UnAvailable. */
async function finishImport(services: Services, trx: Transaction<Database>, job: JobRow): Promise<void> {
  const done = Object.values((parseJson(job.result).disks ?? {}) as Done);
  const now = services.clock.now();
  const imageId = job.resource_id;
  if (job.state === 'succeeded') {
    const system = await trx.selectFrom('image_disks').select('size_gib').where('image_id', '=', imageId).where('idx', '=', 0).executeTakeFirst();
    await trx.updateTable('images').set({ status: 'Available', progress: 100, size_gib: system?.size_gib ?? 0, updated_at: now })
      .where('id', '=', imageId).execute();
    return;
  }
  await dropSnapshotsIn(trx, done.flatMap((d) => (d.snapshotId ? [d.snapshotId] : [])), now);
  for (const d of done) if (!d.snapshotId) await releaseManifestIn(trx, d.manifestId, now);
  await trx.updateTable('image_disks').set({ snapshot_id: '' }).where('image_id', '=', imageId).execute();
  const failed = { status: 'CreateFailed', error_code: job.error_code, error_message: job.error_message };
  await trx.updateTable('images').set({ ...(job.state === 'cancelled' ? { status: 'UnAvailable' } : failed), updated_at: now })
    .where('id', '=', imageId).execute();
  await removeUploads((parseJson(job.payload) as unknown as ImportPayload).disks ?? []);
}
