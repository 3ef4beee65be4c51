/**
 * Copy-on-write disk writes: derive a new manifest in which [offset, offset + data.length) holds `data`.
 * Only the chunks the range touches are read, patched, hashed and stored; the old manifest and its
 * chunks stay as they are. The result is not committed: pass it to ManifestRepo.commit.
 */
import type { ChunkEntry, Manifest } from './types.ts';
import { CHUNK_SIZE, chunkLength } from '../domain/disk.ts';
import type { ReadChunk } from '../formats/types.ts';
import { manifestDisk, patchManifest } from './manifests.ts';
import { storeChunks, type ImportDeps } from './importer.ts';

export async function writeRange(manifest: Manifest, offset: number, data: Buffer, deps: ImportDeps): Promise<Manifest> {
  const end = offset + data.length;
  if (!Number.isSafeInteger(offset) || offset < 0 || end > manifest.virtualSize) {
    throw new RangeError(`write of ${data.length} bytes at ${offset} is outside the ${manifest.virtualSize}-byte disk`);
  }
  if (data.length === 0) return manifest;
  const disk = manifestDisk(manifest, deps.store);

  async function* patched(): AsyncGenerator<ReadChunk> {
    for (let i = Math.floor(offset / CHUNK_SIZE); i * CHUNK_SIZE < end; i++) {
      const start = i * CHUNK_SIZE;
      const length = chunkLength(manifest.virtualSize, i);
      const from = Math.max(offset, start);
      const to = Math.min(end, start + length);
      const covered = from === start && to === start + length;
      // Stores hand out a fresh Buffer per get, so the old bytes can be patched in place.
      const buf = (covered ? null : await disk.readChunk(i)) ?? Buffer.alloc(length);
      data.copy(buf, from - start, from - offset, to - offset);
      yield { index: i, data: buf };
    }
  }

  const updates = new Map<number, ChunkEntry | null>();
  await storeChunks(patched(), manifest.virtualSize, (i, e) => updates.set(i, e), deps);
  return patchManifest(manifest, updates);
}
