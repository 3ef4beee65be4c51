/**
 * Image data through Glance: storing a body in the chunk store as it arrives (PUT /file, IMS's upload) or spooling
 * it to a file (stage, glance-download), hashing it either way (md5 for `checksum`, sha512 for the multihash), and
 * ingesting the stored or spooled bytes (import.ts runs it in a job): it runs the safe inspector with the declared
 * `disk_format` over them (a mismatch, a backing file or an external data file is refused), imports the virtual disk into the chunk store as a snapshot of the image's
 * system disk, and keeps the file's own bytes as a second manifest (the same one for raw) so that
 * `GET /file` returns exactly what was uploaded.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { apiError } from '../../domain/errors.ts';
import type { ByteRange } from '../../domain/byte-range.ts';
import { CHUNK_SIZE, chunkCount, chunkLength } from '../../domain/disk.ts';
import { newResourceId } from '../../domain/ids.ts';
import { ecsStatusOf, type GlanceStatus } from '../../domain/glance-status.ts';
import { inspect, openFileSource, openReader, type ClosableByteSource } from '../../formats/index.ts';
import type { DiskReader, ImportFormat } from '../../formats/types.ts';
import { importDisk } from '../../blobs/importer.ts';
import { rawBytes, writeRawRange } from '../../formats/writers/raw.ts';
import { storeAndDigest, writeAndDigest } from '../../blobs/stream-digests.ts';
import type { ChunkBufferPool } from '../../formats/buffer-pool.ts';
import { manifestDisk, manifestSource } from '../../blobs/manifests.ts';
import type { Manifest } from '../../blobs/types.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { insertSnapshot, uniqueBytes } from '../snapshots/repo.ts';
import { toApiError } from '../errors.ts';
import { getImage, type GlanceImage } from './images.ts';
import { readLocation } from './locations.ts';

const GiB = 1024 ** 3;

/** disk_format → what the inspector must find; kernel/ramdisk/machine images are raw bytes. */
const INSPECTED: Record<string, ImportFormat> = { raw: 'raw', ami: 'raw', aki: 'raw', ari: 'raw', qcow2: 'qcow2', vhd: 'vhd', vhdx: 'vhdx', vmdk: 'vmdk', iso: 'iso', gpt: 'raw' };

/** The file's bytes as a flat "disk" (the last chunk may be short), for the manifest GET /file serves. */
function fileReader(src: ClosableByteSource, buffers: ChunkBufferPool): DiskReader {
  return {
    virtualSize: src.size,
    async *chunks() {
      for (let index = 0; index < chunkCount(src.size); index++) {
        const buf = buffers.acquire(chunkLength(src.size, index));
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

/** What hashing the bytes gave: md5 (`checksum`), sha512 (`os_hash_value`) and their count. */
export interface Digests {
  size: number;
  md5: string;
  sha512: string;
}

/** Writes `body` to the new file `dest` while hashing it (md5 and sha512 on their own threads). */
export async function spool(services: Pick<Services, 'dataPlane'>, body: Readable, dest: string): Promise<Digests> {
  const { size, hex: [md5, sha512] } = await writeAndDigest(body, dest, ['md5', 'sha512'], services.dataPlane.buffers);
  return { size, md5, sha512 };
}

/** The digests of a file spooled without them (a stage made before migration 0018). */
export async function digestsOf(file: string): Promise<Digests> {
  const md5 = crypto.createHash('md5');
  const sha512 = crypto.createHash('sha512');
  let size = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    md5.update(chunk);
    sha512.update(chunk);
    size += chunk.length;
  }
  return { size, md5: md5.digest('hex'), sha512: sha512.digest('hex') };
}

/** A new file name in the temp folder for bytes on their way in. */
export async function tempFile(services: Pick<Services, 'dirs'>, prefix: string): Promise<string> {
  await fs.mkdir(services.dirs.temp, { recursive: true });
  return path.join(services.dirs.temp, `${prefix}-${crypto.randomBytes(8).toString('hex')}`);
}

const SECTOR = 512;

/**
 * Glance takes raw (and ami/aki/ari/iso) data of any length; a disk is whole sectors. The disk is the file
 * zero-padded to the next sector; the file's own bytes stay in the file manifest.
 */
function paddedToSector(src: ClosableByteSource): ClosableByteSource {
  const size = Math.ceil(src.size / SECTOR) * SECTOR;
  if (size === src.size) return src;
  return {
    size,
    close: () => src.close(),
    async read(buf, offset, length, position) {
      if (position >= src.size) {
        const n = Math.max(0, Math.min(length, size - position));
        buf.fill(0, offset, offset + n);
        return n;
      }
      return src.read(buf, offset, Math.min(length, src.size - position), position);
    },
  };
}

/** What an import sets on the image besides its data (glance-download: the source's formats and properties, merged). */
export interface IngestedFields {
  disk_format: string;
  container_format: string;
  properties: Record<string, string>;
}

/** The image fields ingesting needs (read from the rows, so a job can ingest without a viewer). */
export interface IngestTarget {
  id: string;
  owner: string;
  region: string;
  disk_format: string | null;
}

/** The inspector's format for the image's disk_format, or a 400 when it has none or one we cannot inspect. */
export function declaredFormat(img: { disk_format: string | null; container_format: string | null }): ImportFormat {
  if (!img.disk_format || !img.container_format) throw apiError('OpenStack.BadRequest', 'Properties disk_format, container_format must be set prior to saving data.');
  const declared = INSPECTED[img.disk_format];
  if (!declared) throw apiError('OpenStack.BadRequest', `Images with disk_format ${img.disk_format} cannot be inspected, so they cannot be uploaded here.`);
  return declared;
}

/**
 * PUT /file and IMS's upload: stores `body` in the chunk store as it arrives (md5 and sha512 alongside), then
 * inspects the stored bytes against disk_format and ingests them as ingestFile does; for raw the stored bytes
 * are the disk, read by nobody again. A refused or failed upload commits nothing: its chunks are garbage once
 * the GC grace period has passed.
 */
export async function ingestStream(services: Services, img: IngestTarget, body: Readable, signal?: AbortSignal): Promise<void> {
  declaredFormat({ disk_format: img.disk_format, container_format: 'bare' });
  const deps = services.dataPlane.importDeps(img.region);
  const { manifest, hex: [md5, sha512] } = await storeAndDigest(body, deps, ['md5', 'sha512'], { buffers: services.dataPlane.buffers, signal });
  await ingestBytes(services, img, manifestSource(manifest, deps.store), manifest, { size: manifest.virtualSize, md5, sha512 });
}

/**
 * Inspects the file against disk_format, imports it into the chunk store and makes the image active with its
 * hashes, in one transaction. The caller owns the file and the status the image had before.
 */
export async function ingestFile(services: Services, img: IngestTarget, file: string, digests: Digests, also?: IngestedFields): Promise<void> {
  await ingestBytes(services, img, await openFileSource(file, { direct: true }), undefined, digests, also);
}

/**
 * Inspects `bytesIn` (closed here) against disk_format and commits the disk and the bytes as uploaded; `stored`
 * is their flat manifest when they are already in the chunk store.
 */
async function ingestBytes(services: Services, img: IngestTarget, bytesIn: ClosableByteSource, stored: Manifest | undefined, digests: Digests, also?: IngestedFields): Promise<void> {
  const { db } = services;
  const { id, region } = img;
  try {
    const declared = declaredFormat({ disk_format: img.disk_format, container_format: 'bare' });
    const flat = declared === 'raw' || declared === 'iso';
    const src = flat ? paddedToSector(bytesIn) : bytesIn;
    let insp;
    try {
      insp = await inspect(src, { declared });
    } catch (e) {
      throw apiError('OpenStack.BadRequest', `Image content does not match disk_format ${img.disk_format} or is unsafe: ${toApiError(e).message}`);
    }
    const deps = services.dataPlane.importDeps(region);
    const { buffers } = services.dataPlane;
    const sameBytes = insp.format === 'raw' && insp.virtualSize === digests.size;
    const disk = sameBytes && stored ? stored : await importDisk(await openReader(src, insp, { allocate: (n) => buffers.acquire(n), deferReads: true }), deps, { buffers });
    const bytes = sameBytes ? disk : stored ?? (await importDisk(fileReader(bytesIn, buffers), deps, { buffers }));
    const diskId = await services.dataPlane.manifests.commit(region, disk);
    const fileId = sameBytes ? diskId : await services.dataPlane.manifests.commit(region, bytes);
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
      const props = also && { ...(JSON.parse((await trx.selectFrom('glance_images').select('properties').where('image_id', '=', id).executeTakeFirstOrThrow()).properties) as Record<string, string>), ...also.properties };
      await trx.updateTable('glance_images').set({
        ...(also ? { disk_format: also.disk_format, container_format: also.container_format, properties: JSON.stringify(props) } : {}),
        phase: ecsStatusOf('active').phase, size: digests.size, virtual_size: insp.virtualSize, checksum: digests.md5, os_hash_algo: 'sha512',
        os_hash_value: digests.sha512, file_manifest_id: fileId, stage_path: '', stage_node: '', stage_md5: '', stage_sha512: '',
      }).where('image_id', '=', id).execute();
    });
  } finally {
    await bytesIn.close().catch(() => {});
  }
}

/** Moves the image to `status` if it is in one of `from` (ECS status and Glance phase together); false if it was not. */
export async function moveStatus(services: Pick<Services, 'db' | 'clock'>, id: string, from: GlanceStatus[], to: GlanceStatus): Promise<boolean> {
  const target = ecsStatusOf(to);
  return services.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('images as i').innerJoin('glance_images as g', 'g.image_id', 'i.id').select(['i.status', 'g.phase']).where('i.id', '=', id).executeTakeFirst();
    if (!row || !from.some((f) => ecsStatusOf(f).ecs === row.status && ecsStatusOf(f).phase === row.phase)) return false;
    await trx.updateTable('glance_images').set({ phase: target.phase }).where('image_id', '=', id).execute();
    await trx.updateTable('images').set({ status: target.ecs, updated_at: services.clock.now() }).where('id', '=', id).execute();
    return true;
  });
}

/**
 * Given the size of an image's data, the part a request asks for (undefined: all of it). It runs before any data is
 * opened, and may throw the surface's answer to a range it refuses.
 */
export type RangePick = (size: number) => ByteRange | undefined;

export interface ImageBytes {
  /** The whole data's size, when known. */
  size?: number;
  /** The part `stream` holds, when a RangePick asked for one (`size` is then known); undefined: all of it. */
  range?: ByteRange;
  /** What GET /file sends as Content-MD5: the checksum of bytes uploaded or vouched for, not of an ECS disk. */
  md5: string | null;
  stream: Readable;
  /**
   * When set, a faster way to the same bytes than `stream` (use one of the two): writes them into `out`, reusing
   * the data plane's buffers once `out` has taken each.
   */
  writeTo?: (out: Writable) => Promise<void>;
}

/**
 * An image's data, with no visibility check: the bytes as uploaded, the first http location that answers, or,
 * for an image made through ECS, its system disk as raw; undefined when it has none. With `pick`, only the part it
 * asks for is read.
 */
export async function imageBytes(services: Pick<Services, 'db' | 'dataPlane' | 'webDownload'>, img: GlanceImage, pick?: RangePick): Promise<ImageBytes | undefined> {
  let manifestId = img.fileManifestId;
  if (!manifestId && img.externalLocations.length && img.status === 'active') {
    const out = await readLocation(services, img.externalLocations);
    const size = out.size ?? img.size ?? undefined;
    let range: ByteRange | undefined;
    try {
      range = size === undefined ? undefined : pick?.(size);
    } catch (e) {
      out.stream.destroy();
      throw e;
    }
    return { size, range, md5: img.checksum, stream: range ? Readable.from(slice(out.stream, range)) : out.stream };
  }
  if (!manifestId) {
    if (img.status !== 'active') return undefined;
    const disk = await services.db.selectFrom('image_disks as d').innerJoin('snapshots as s', 's.id', 'd.snapshot_id').select('s.manifest_id')
      .where('d.image_id', '=', img.id).where('d.idx', '=', 0).executeTakeFirst();
    if (!disk) return undefined;
    manifestId = disk.manifest_id;
  }
  const stored = await services.dataPlane.manifests.load(manifestId);
  if (!stored) return undefined;
  const disk = manifestDisk(stored.manifest, services.dataPlane.store(stored.region));
  const range = pick?.(disk.virtualSize);
  // The disk's bytes as raw: a few chunk reads ahead of the socket, zero runs from one shared zero buffer.
  const stream = Readable.from(rawBytes(disk, range?.start, range?.end));
  const writeTo = (out: Writable) => writeRawRange(disk, out, services.dataPlane.buffers, range?.start, range?.end);
  return { size: disk.virtualSize, range, md5: img.fileManifestId ? img.checksum : null, stream, writeTo };
}

/** The bytes [start, end) of a stream read from its beginning; the source is closed once they have passed. */
async function* slice(source: AsyncIterable<Buffer>, { start, end }: ByteRange): AsyncGenerator<Buffer> {
  let at = 0;
  for await (const buf of source) {
    const from = Math.max(start - at, 0);
    const to = Math.min(end - at, buf.length);
    if (to > from) yield buf.subarray(from, to);
    at += buf.length;
    if (at >= end) return;
  }
}

/**
 * GET /file: readImageFile as one of the viewer's limited concurrent heavy requests, until `release` (which the
 * caller calls once the body is over: sent, failed or abandoned). Undefined, with nothing held, when there is no data.
 */
export async function downloadFile(services: Services, viewer: Identity, id: string, pick?: RangePick): Promise<(ImageBytes & { release(): void }) | undefined> {
  const release = services.work.hold(viewer.id);
  try {
    const out = await readImageFile(services, viewer, id, undefined, pick);
    if (!out) release();
    return out && { ...out, release };
  } catch (e) {
    release();
    throw e;
  }
}

/**
 * The image's data (imageBytes) as `viewer` may read it, from this node's image cache when it holds it; with
 * `pick`, only the part it asks for.
 */
export async function readImageFile(services: Services, viewer: Identity, id: string, region?: string, pick?: RangePick): Promise<ImageBytes | undefined> {
  const img = await getImage(services, viewer, id, region);
  if (img.status === 'deactivated') throw apiError('OpenStack.Forbidden', 'The requested image has been deactivated. Image data download is forbidden.');
  const cached = img.status === 'active' ? await services.imageCache.open(img.id) : undefined;
  if (!cached) return imageBytes(services, img, pick);
  try {
    const { size } = await cached.stat();
    const range = pick?.(size);
    services.imageCache.countHit(img.id);
    const md5 = img.fileManifestId || img.externalLocations.length ? img.checksum : null;
    return { size, range, md5, stream: cached.createReadStream(range ? { start: range.start, end: range.end - 1 } : {}) };
  } catch (e) {
    await cached.close();
    throw e;
  }
}
