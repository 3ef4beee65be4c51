/** Dense views of (small) sparse manifests, so tests can state them chunk by chunk. */
import type { ChunkEntry, Manifest } from '../../src/blobs/types.ts';
import { chunkCount } from '../../src/domain/disk.ts';

/** One slot per chunk: its entry, or null when the chunk is all zero. Only for small test disks. */
export function denseChunks(m: Manifest): (ChunkEntry | null)[] {
  const out: (ChunkEntry | null)[] = new Array(chunkCount(m.virtualSize)).fill(null);
  for (const e of m.entries) out[e.index] = { ref: e.ref, zeroMap: e.zeroMap };
  return out;
}

/** The sparse manifest of a dense list (null = zero chunk). */
export function fromDense(virtualSize: number, chunks: (ChunkEntry | null)[]): Manifest {
  const entries = chunks.flatMap((e, index) => (e ? [{ index, ref: e.ref, zeroMap: e.zeroMap }] : []));
  return { virtualSize, entries };
}
