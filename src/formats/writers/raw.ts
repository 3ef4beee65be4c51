/** raw export: the virtual bytes themselves; zero chunks come from one shared zero buffer. */
import { CHUNK_SIZE, chunkLength, type VirtualDisk } from '../../domain/disk.ts';
import { nonZeroRuns, readChunks, runBytes, zeros } from './disk-chunks.ts';
import { FileWriter } from './file.ts';
import type { ExportStream } from './types.ts';
import type { ChunkBufferPool } from '../buffer-pool.ts';

export function rawExport(disk: VirtualDisk): ExportStream {
  return { size: disk.virtualSize, stream: () => rawBytes(disk) };
}

/** The disk's virtual bytes [from, to), in order (all of them by default). Also the body of a fixed VHD. */
export async function* rawBytes(disk: VirtualDisk, from = 0, to = disk.virtualSize): AsyncGenerator<Buffer> {
  const [first, end] = [Math.floor(from / CHUNK_SIZE), Math.ceil(to / CHUNK_SIZE)];
  const dataChunks = chunksWithData(disk).filter((i) => i >= first && i < end);
  let pos = from; // virtual offset reached so far
  for await (const [index, data] of readChunks(disk, dataChunks)) {
    const at = index * CHUNK_SIZE;
    yield* zeros(at - pos);
    const [a, b] = [Math.max(from, at) - at, Math.min(to, at + data.length) - at];
    yield a === 0 && b === data.length ? data : data.subarray(a, b);
    pos = at + b;
  }
  yield* zeros(to - pos);
}

export function chunksWithData(disk: VirtualDisk): number[] {
  return disk.dataChunks().filter((i) => nonZeroRuns(disk, i).length > 0);
}

/**
 * Writes the disk as a sparse raw file: only non-zero 64 KiB runs are written, zero ranges are
 * holes (the length is set first). fsyncs before returning.
 */
export async function writeSparseRaw(disk: VirtualDisk, path: string, staging?: ChunkBufferPool): Promise<{ bytes: number }> {
  const file = await FileWriter.create(path, { size: disk.virtualSize, staging });
  try {
    for await (const [index, data] of readChunks(disk, chunksWithData(disk))) {
      const len = chunkLength(disk.virtualSize, index);
      for (const run of nonZeroRuns(disk, index)) {
        const [from, to] = runBytes(run, len);
        await file.write(data.subarray(from, to), index * CHUNK_SIZE + from);
      }
    }
    await file.finish();
  } finally {
    await file.close();
  }
  return { bytes: disk.virtualSize };
}
