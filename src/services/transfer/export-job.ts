/**
 * The ExportImage job: each disk's snapshot manifest is written to the bucket in the requested format,
 * one object per disk. An object appears under its final name only once complete (see ObjectStore.put),
 * and each finished object is checkpointed, so a job resumed after a crash writes only what is missing.
 */
import type { JobRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { manifestDisk } from '../../blobs/manifests.ts';
import { holdForRead, type ReadHold } from '../../blobs/read-holds.ts';
import type { VirtualDisk } from '../../domain/disk.ts';
import { exportImage, writeExportFile } from '../../formats/writers/index.ts';
import type { JobContext } from '../../jobs/index.ts';
import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { removeTempFiles } from './temp-files.ts';
import { ProgressReporter } from './progress.ts';
import type { ExportPayload } from './kinds.ts';

export function exportJobKind(services: Services): JobKind {
  return { handler: (job, ctx) => runExport(services, job, ctx) };
}

/** The disk, counting the data chunks read (for progress) and stopping at the job's abort signal. */
function observedDisk(disk: VirtualDisk, signal: AbortSignal, onChunk: () => void): VirtualDisk {
  return {
    virtualSize: disk.virtualSize,
    chunkCount: disk.chunkCount,
    dataChunks: () => disk.dataChunks(),
    zeroMask: (i) => disk.zeroMask(i),
    async readChunk(i) {
      signal.throwIfAborted();
      const data = await disk.readChunk(i);
      if (data) onChunk();
      return data;
    },
  };
}

function dataChunks(disk: VirtualDisk): number {
  return disk.dataChunks().length;
}

async function runExport(services: Services, job: JobRow, ctx: JobContext): Promise<void> {
  const { bucket, format, objects } = ctx.payload as unknown as ExportPayload;
  const done = new Set((ctx.state.done as number[] | undefined) ?? []);
  const chunks = services.dataPlane.store(job.region);

  // What an attempt that crashed mid-object left in the temp folder (the folder backend's partial files).
  const tempPrefix = `export-${job.id}-`;
  await removeTempFiles(services.dirs.temp, { prefix: tempPrefix });

  // The image can be deleted through another surface (Glance) while it exports: read holds keep its chunks.
  const holds: ReadHold[] = [];
  try {
    const disks = new Map<number, VirtualDisk>();
    for (const o of objects) {
      if (done.has(o.idx)) continue;
      const snapshot = await services.db.selectFrom('snapshots').select('manifest_id').where('id', '=', o.snapshotId).executeTakeFirst();
      const hold = snapshot && (await holdForRead(services.db, snapshot.manifest_id, () => services.clock.now()));
      if (hold) holds.push(hold);
      const stored = hold && (await services.dataPlane.manifests.load(hold.manifestId));
      if (!stored) throw apiError('ExportImageFailed', `the snapshot ${o.snapshotId || '(none)'} of disk ${o.idx} no longer exists`);
      disks.set(o.idx, manifestDisk(stored.manifest, chunks));
    }
    await writeObjects(services, ctx, disks, { bucket, format, objects, done, tempPrefix });
  } finally {
    await Promise.all(holds.map((h) => h.release()));
  }
}

async function writeObjects(
  services: Services, ctx: JobContext, disks: Map<number, VirtualDisk>,
  { bucket, format, objects, done, tempPrefix }: ExportPayload & { done: Set<number>; tempPrefix: string },
): Promise<void> {
  const store = services.objects;
  const total = [...disks.values()].reduce((n, d) => n + dataChunks(d), 0);
  let read = 0;
  const reporter = new ProgressReporter(ctx);
  for (const o of objects) {
    const source = disks.get(o.idx);
    if (!source) continue;
    const disk = observedDisk(source, ctx.signal, () => reporter.report(++read, total));
    await store.put(bucket, o.key, {
      writeFile: (path, staging) => writeExportFile(disk, format, path, {}, staging),
      stream: () => exportImage(disk, format).stream(),
    }, { signal: ctx.signal, tempName: `${tempPrefix}${o.idx}` });
    done.add(o.idx);
    await ctx.checkpoint({ done: [...done] });
  }
  await reporter.flush();
}
