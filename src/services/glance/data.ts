/**
 * Image data through Glance: `PUT /file` spools the body while hashing it (md5 for `checksum`, sha512 for
 * the multihash), runs the safe inspector with the declared `disk_format` (a mismatch, a backing file or an
 * external data file is refused), imports the virtual disk into the chunk store as a snapshot of the image's
 * system disk, and keeps the file's own bytes as a second manifest (the same one for raw) so that
 * `GET /file` returns exactly what was uploaded.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { apiError } from '../../domain/errors.ts';
import { CHUNK_SIZE, chunkCount, chunkLength } from '../../domain/disk.ts';
import { newResourceId } from '../../domain/ids.ts';
import { ecsStatusOf } from '../../domain/glance-status.ts';
import { inspect, openFileSource, openReader, type ClosableByteSource } from '../../formats/index.ts';
import type { DiskReader, ImportFormat } from '../../formats/types.ts';
import { importDisk } from '../../blobs/importer.ts';
import { manifestDisk } from '../../blobs/manifests.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { insertSnapshot, uniqueBytes } from '../snapshots/repo.ts';
import { toApiError } from '../errors.ts';
import { getImage } from './images.ts';

const GiB = 1024 ** 3;

/** disk_format → what the inspector must find; kernel/ramdisk/machine images are raw bytes. */
const INSPECTED: Record<string, ImportFormat> = { raw: 'raw', ami: 'raw', aki: 'raw', ari: 'raw', qcow2: 'qcow2', vhd: 'vhd', vhdx: 'vhdx', vmdk: 'vmdk', iso: 'iso', gpt: 'raw' };

/** The file's bytes as a flat "disk" (the last chunk may be short), for the manifest GET /file serves. */
function fileReader(src: ClosableByteSource): DiskReader {
  return {
    virtualSize: src.size,
    async *chunks() {
      for (let index = 0; index < chunkCount(src.size); index++) {
        const buf = Buffer.alloc(chunkLength(src.size, index));
        let got = 0;
        while (got < buf.length) {
          const n = await src.read(buf, got, buf.length - got, index * CHUNK_SIZE + got);
          if (n === 0) throw new Error('upload spool shrank');
          got += n;
        }
        yield { index, data: buf };
      }
    },
  };
}

export async function uploadFile(services: Services, viewer: Identity, id: string, body: Readable): Promise<void> {
  const { db } = services;
  const img = await getImage(services, viewer, id);
  if (img.owner !== viewer.id && !viewer.isAdmin) throw apiError('OpenStack.Forbidden', 'You are not permitted to upload data to this image.');
  if (img.status !== 'queued') throw apiError('OpenStack.Conflict', `Image status transition from ${img.status} to saving is not allowed`);
  if (!img.disk_format || !img.container_format) throw apiError('OpenStack.BadRequest', 'Properties disk_format, container_format must be set prior to saving data.');
  const declared = INSPECTED[img.disk_format];
  if (!declared) throw apiError('OpenStack.BadRequest', `Images with disk_format ${img.disk_format} cannot be inspected, so they cannot be uploaded here.`);
  const claimed = await db.updateTable('glance_images').set({ phase: ecsStatusOf('saving').phase }).where('image_id', '=', id).where('phase', '=', '').executeTakeFirst();
  await db.updateTable('images').set({ status: ecsStatusOf('saving').ecs }).where('id', '=', id).where('status', '=', ecsStatusOf('queued').ecs).execute();
  if (Number(claimed.numUpdatedRows) !== 1) throw apiError('OpenStack.Conflict', 'Image is already being uploaded.');

  await fs.mkdir(services.dirs.temp, { recursive: true });
  const spool = path.join(services.dirs.temp, `glance-${crypto.randomBytes(8).toString('hex')}`);
  const md5 = crypto.createHash('md5');
  const sha512 = crypto.createHash('sha512');
  let size = 0;
  let src: ClosableByteSource | undefined;
  const region = img.region;
  try {
    await pipeline(body, new Transform({
      transform(chunk: Buffer, _enc, done) {
        md5.update(chunk);
        sha512.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    }), createWriteStream(spool, { flags: 'wx' }));
    src = await openFileSource(spool);
    let insp;
    try {
      insp = await inspect(src, { declared });
    } catch (e) {
      throw apiError('OpenStack.BadRequest', `Image content does not match disk_format ${img.disk_format} or is unsafe: ${toApiError(e).message}`);
    }
    const deps = services.dataPlane.importDeps(region);
    const disk = await importDisk(await openReader(src, insp), deps);
    const sameBytes = insp.format === 'raw' && insp.virtualSize === size;
    const file = sameBytes ? disk : await importDisk(fileReader(src), deps);
    const diskId = await services.dataPlane.manifests.commit(region, disk);
    const fileId = sameBytes ? diskId : await services.dataPlane.manifests.commit(region, file);
    if (sameBytes) await services.dataPlane.manifests.hold(diskId);
    const now = services.clock.now();
    const sizeGib = Math.max(1, Math.ceil(insp.virtualSize / GiB));
    const snapshotId = newResourceId('snapshot', services.regions.require(region).infix);
    await db.transaction().execute(async (trx) => {
      await insertSnapshot(trx, {
        id: snapshotId, region, owner_id: img.owner, manifest_id: diskId, description: `Uploaded through Glance for image ${id}`,
        source_disk_type: 'system', source_disk_size_gib: sizeGib, unique_bytes: uniqueBytes(disk),
      }, now);
      await trx.insertInto('image_disks').values({
        image_id: id, idx: 0, type: 'system', device: '/dev/xvda', size_gib: sizeGib, snapshot_id: snapshotId, format: insp.format.toUpperCase(),
        import_bucket: '', import_object: '', progress: 100,
      }).execute();
      await trx.updateTable('images').set({ status: ecsStatusOf('active').ecs, progress: 100, size_gib: sizeGib, updated_at: now }).where('id', '=', id).execute();
      await trx.updateTable('glance_images').set({
        phase: ecsStatusOf('active').phase, size, virtual_size: insp.virtualSize, checksum: md5.digest('hex'), os_hash_algo: 'sha512',
        os_hash_value: sha512.digest('hex'), file_manifest_id: fileId,
      }).where('image_id', '=', id).execute();
    });
  } catch (e) {
    // The image goes back to queued, so the upload can be tried again.
    await db.updateTable('glance_images').set({ phase: '' }).where('image_id', '=', id).execute();
    await db.updateTable('images').set({ status: ecsStatusOf('queued').ecs }).where('id', '=', id).execute();
    throw e;
  } finally {
    await src?.close().catch(() => {});
    await fs.rm(spool, { force: true });
  }
}

/** GET /file: the uploaded bytes (or, for an image made through ECS, its system disk as raw), with its md5. */
export async function downloadFile(services: Services, viewer: Identity, id: string): Promise<{ size: number; md5: string | null; stream: Readable } | undefined> {
  const img = await getImage(services, viewer, id);
  if (img.status === 'deactivated' && img.owner !== viewer.id && !viewer.isAdmin) throw apiError('OpenStack.Forbidden', 'The requested image has been deactivated. Image data download is forbidden.');
  if (img.status === 'deactivated') throw apiError('OpenStack.Forbidden', 'The requested image has been deactivated. Image data download is forbidden.');
  let manifestId = img.fileManifestId;
  if (!manifestId) {
    if (img.status !== 'active') return undefined;
    const disk = await services.db.selectFrom('image_disks as d').innerJoin('snapshots as s', 's.id', 'd.snapshot_id').select('s.manifest_id')
      .where('d.image_id', '=', id).where('d.idx', '=', 0).executeTakeFirst();
    if (!disk) return undefined;
    manifestId = disk.manifest_id;
  }
  const stored = await services.dataPlane.manifests.load(manifestId);
  if (!stored) return undefined;
  const vd = manifestDisk(stored.manifest, services.dataPlane.store(stored.region));
  async function* bytes() {
    for (let i = 0; i < vd.chunkCount; i++) yield (await vd.readChunk(i)) ?? Buffer.alloc(chunkLength(vd.virtualSize, i));
  }
  return { size: vd.virtualSize, md5: img.fileManifestId ? img.checksum : null, stream: Readable.from(bytes()) };
}
