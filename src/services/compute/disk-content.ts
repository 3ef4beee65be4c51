/**
 * Reading and writing a disk's bytes. Writes are copy-on-write (writeRange stores new chunks and derives
 * a new manifest) and swap in optimistically (swapDiskContent); a streamed write is cut at chunk
 * boundaries into pieces of at most 4 MiB, each its own atomic write, so memory stays bounded.
 * Reads hold the manifest they read for as long as they stream, so a concurrent write cannot free it.
 */
import { holdForRead } from '../../blobs/read-holds.ts';
import type { DiskRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import type { ChunkStore, Manifest } from '../../blobs/types.ts';
import { CHUNK_SIZE } from '../../domain/disk.ts';
import { readChunks } from '../../formats/writers/disk-chunks.ts';
import { writeRawRange } from '../../formats/writers/raw.ts';
import type { ChunkBufferPool } from '../../formats/buffer-pool.ts';
import type { Writable } from 'node:stream';
import { manifestDisk } from '../../blobs/manifests.ts';
import { writeRange, zeroRange } from '../../blobs/write-range.ts';
import type { Services } from '../context.ts';
import { requireOwnDisk, swapDiskContent } from './disks.ts';
import { GIB } from './disk-rules.ts';
import { sparseBody, type SparsePiece } from '../../formats/sparse-body.ts';

export function diskBytes(disk: Pick<DiskRow, 'size_gib'>): number {
  return disk.size_gib * GIB;
}

function assertInside(disk: DiskRow, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > diskBytes(disk)) {
    throw apiError('InvalidParameter', 'offset');
  }
}

/** Swaps in the manifest `derive` makes from the disk's current one (copy-on-write, retried on a lost race). */
async function patchDisk(services: Services, disk: DiskRow, derive: (base: Manifest, region: string) => Promise<Manifest>): Promise<void> {
  const repo = services.dataPlane.manifests;
  await swapDiskContent(services, disk.id, async (current) => {
    const base = await repo.load(current.manifest_id);
    // Gone only when another writer swapped and released it since the row was read: start again.
    if (!base) return undefined;
    const manifest = await derive(base.manifest, current.region);
    return { id: await repo.commit(current.region, manifest), fresh: true };
  });
}

/** Writes `data` at `offset` of a disk, copy-on-write. */
export async function writeDisk(services: Services, disk: DiskRow, offset: number, data: Buffer): Promise<void> {
  assertInside(disk, offset, data.length);
  if (data.length === 0) return;
  await patchDisk(services, disk, (base, region) => writeRange(base, offset, data, services.dataPlane.importDeps(region)));
}

/** Zeros `length` bytes at `offset` of a disk, copy-on-write: whole chunks become holes without being read. */
export async function zeroDisk(services: Services, disk: DiskRow, offset: number, length: number): Promise<void> {
  assertInside(disk, offset, length);
  if (length === 0) return;
  await patchDisk(services, disk, (base, region) => zeroRange(base, offset, length, services.dataPlane.importDeps(region)));
}

/**
 * Writes a stream at `offset`, as one of the account's limited concurrent heavy requests. With `declaredLength` the range is checked before any byte is written;
 * without it, the write fails as soon as the bytes received run past the end (bytes before that point
 * that were already received in earlier parts may have been written, as on a real disk).
 */
export async function writeDiskStream(...args: Parameters<typeof writeStream>): Promise<number> {
  const [services, accountId] = args;
  return services.work.run(accountId, () => writeStream(...args));
}

async function writeStream(
  services: Services,
  accountId: string,
  diskId: string,
  offset: number,
  body: AsyncIterable<Uint8Array>,
  declaredLength?: number,
): Promise<number> {
  const disk = await requireOwnDisk(services, diskId, accountId);
  assertInside(disk, offset, declaredLength ?? 0);
  let position = offset;
  let piece = Buffer.alloc(0);
  const room = () => CHUNK_SIZE - (position % CHUNK_SIZE);
  const flush = async (n: number) => {
    await writeDisk(services, disk, position, piece.subarray(0, n));
    position += n;
    piece = piece.subarray(n);
  };
  for await (const part of body) {
    piece = piece.length ? Buffer.concat([piece, part]) : Buffer.from(part);
    assertInside(disk, position, piece.length);
    while (piece.length >= room()) await flush(room());
  }
  if (piece.length) await flush(piece.length);
  return position - offset;
}

/**
 * Writes the bytes [start, end) of a held disk read into `out`, each chunk read into a buffer of `buffers` (O_DIRECT
 * where the store can) and given back once `out` has taken it.
 */
export function writeManifestRange(read: Pick<DiskReadHandle, 'manifest' | 'store'>, buffers: ChunkBufferPool, start: number, end: number, out: Writable): Promise<void> {
  return writeRawRange(manifestDisk(read.manifest, read.store), out, buffers, start, end);
}

/**
 * The bytes [start, end) of a manifest as a sparse body (formats/sparse-body.ts, offsets from `start`): only the
 * chunks that hold data are read and sent, so an empty 32 TiB disk costs a header.
 */
export function readManifestSparse(manifest: Manifest, store: ChunkStore, start: number, end: number): AsyncIterable<Buffer> {
  const disk = manifestDisk(manifest, store);
  const first = Math.floor(start / CHUNK_SIZE);
  const indices = disk.dataChunks().filter((i) => i >= first && i * CHUNK_SIZE < end);
  async function* pieces(): AsyncIterable<SparsePiece> {
    for await (const [index, data] of readChunks(disk, indices, 2)) {
      const base = index * CHUNK_SIZE;
      const from = Math.max(start, base);
      yield { offset: from - start, data: data.subarray(from - base, Math.min(end, base + data.length) - base) };
    }
  }
  return sparseBody(end - start, pieces());
}

export interface DiskReadHandle {
  disk: DiskRow;
  manifest: Manifest;
  store: ChunkStore;
  /** Drops the hold on the manifest being read, and gives the account's slot back. */
  close(): Promise<void>;
}

/**
 * The disk's current content, held until `close()` so that concurrent writes cannot free its chunks; the read is one
 * of the account's limited concurrent heavy requests until then.
 */
export async function openDiskRead(services: Services, accountId: string, diskId: string): Promise<DiskReadHandle> {
  const slot = services.work.hold(accountId);
  try {
    const read = await holdDisk(services, accountId, diskId);
    return { ...read, close: () => { slot(); return read.close(); } };
  } catch (e) {
    slot();
    throw e;
  }
}

async function holdDisk(services: Services, accountId: string, diskId: string): Promise<DiskReadHandle> {
  const repo = services.dataPlane.manifests;
  for (let attempt = 0; ; attempt++) {
    const disk = await requireOwnDisk(services, diskId, accountId);
    const hold = await holdForRead(services.db, disk.manifest_id, () => services.clock.now());
    if (!hold) {
      // Swapped and released since the row was read.
      if (attempt >= 200) throw apiError('Operation.Conflict');
      continue;
    }
    const loaded = await repo.load(disk.manifest_id);
    if (!loaded) throw new Error(`manifest ${disk.manifest_id} vanished while held`);
    return {
      disk,
      manifest: loaded.manifest,
      store: services.dataPlane.store(disk.region),
      close: () => hold.release(),
    };
  }
}

