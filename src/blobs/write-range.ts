/**
 * Copy-on-write disk writes: derive a new manifest in which [offset, offset + length) holds new bytes
 * (`writeRange`) or zeros (`zeroRange`). Only the chunks the range touches are read, patched, hashed and
 * stored; a chunk the zeroing covers whole becomes a hole without being read. The old manifest and its
 * chunks stay as they are. The result is not committed: pass it to ManifestRepo.commit.
 */
import type { ChunkEntry, Manifest } from './types.ts';
import { CHUNK_SIZE, chunkLength } from '../domain/disk.ts';
import type { ReadChunk } from '../formats/types.ts';
import { manifestDisk, manifestEntry, patchManifest } from './manifests.ts';
import { storeChunks, type ImportDeps } from './importer.ts';

/** Fills [from, to) of a chunk buffer (virtual offsets; the buffer starts at `chunkStart`). */
type Fill = (buf: Buffer, chunkStart: number, from: number, to: number) => void;

async function patchRange(manifest: Manifest, offset: number, length: number, fill: Fill | null, deps: ImportDeps): Promise<Manifest> {
  const end = offset + length;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || end > manifest.virtualSize) {
    throw new RangeError(`write of ${length} bytes at ${offset} is outside the ${manifest.virtualSize}-byte disk`);
  }
  if (length === 0) return manifest;
  const disk = manifestDisk(manifest, deps.store);

  async function* patched(): AsyncGenerator<ReadChunk> {
    for (let i = Math.floor(offset / CHUNK_SIZE); i * CHUNK_SIZE < end; i++) {
      const start = i * CHUNK_SIZE;
      const size = chunkLength(manifest.virtualSize, i);
      const from = Math.max(offset, start);
      const to = Math.min(end, start + size);
      const covered = from === start && to === start + size;
      if (!fill) {
        // Zeroing: a covered chunk, or one that is a hole already, needs no read.
        const held = manifestEntry(manifest, i) !== null;
        if (covered || !held) {
          if (held) yield { index: i, data: null };
          continue;
        }
      }
      // Stores hand out a fresh Buffer per get, so the old bytes can be patched in place.
      const buf = (covered ? null : await disk.readChunk(i)) ?? Buffer.alloc(size);
      if (fill) fill(buf, start, from, to);
      else buf.fill(0, from - start, to - start);
      yield { index: i, data: buf };
    }
  }

  const updates = new Map<number, ChunkEntry | null>();
  await storeChunks(patched(), manifest.virtualSize, (i, e) => updates.set(i, e), deps);
  return patchManifest(manifest, updates);
}

export function writeRange(manifest: Manifest, offset: number, data: Buffer, deps: ImportDeps): Promise<Manifest> {
  return patchRange(manifest, offset, data.length, (buf, chunkStart, from, to) => data.copy(buf, from - chunkStart, from - offset, to - offset), deps);
}

/** Zeros [offset, offset + length): whole chunks become holes, partly covered ones are patched. */
export function zeroRange(manifest: Manifest, offset: number, length: number, deps: ImportDeps): Promise<Manifest> {
  return patchRange(manifest, offset, length, null, deps);
}
