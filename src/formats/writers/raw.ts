/** raw export: the virtual bytes themselves; zero chunks come from one shared zero buffer. */
import { CHUNK_SIZE, chunkLength, type VirtualDisk } from '../../domain/disk.ts';
import { nonZeroRuns, readChunks, runBytes, zeros } from './disk-chunks.ts';
import { FileWriter } from './file.ts';
import type { ExportStream } from './types.ts';
import type { ChunkBufferPool } from '../buffer-pool.ts';
import type { Writable } from 'node:stream';

export function rawExport(disk: VirtualDisk): ExportStream {
  return { size: disk.virtualSize, stream: () => rawBytes(disk) };
}

/** The disk's virtual bytes [from, to), in order (all of them by default). Also the body of a fixed VHD. */
export async function* rawBytes(disk: VirtualDisk, from = 0, to = disk.virtualSize): AsyncGenerator<Buffer> {
  for await (const [bytes] of rawPieces(disk, from, to)) yield bytes;
}

/**
 * Writes the disk's virtual bytes [from, to) to `out`, each chunk read into a buffer of `buffers` (with O_DIRECT where
 * the chunk store can) and given back once `out` has taken its bytes: no chunk is read through the page cache or into
 * new memory. Resolves when the last write has been taken; `out` is left open.
 */
export async function writeRawRange(disk: VirtualDisk, out: Writable, buffers: ChunkBufferPool, from = 0, to = disk.virtualSize): Promise<void> {
  for await (const [bytes, release] of rawPieces(disk, from, to, buffers)) {
    await new Promise<void>((resolve, reject) => out.write(bytes, (err) => (err ? reject(err) : resolve())));
    release();
  }
}

/**
 * The bytes [from, to) as pieces in order, a few chunk reads ahead: data sliced from chunk reads, zero runs as shared
 * slices of one zero buffer. `release` gives a read's buffer back to `buffers` once its piece has been used.
 */
async function* rawPieces(disk: VirtualDisk, from: number, to: number, buffers?: ChunkBufferPool): AsyncGenerator<[Buffer, () => void]> {
  const [first, end] = [Math.floor(from / CHUNK_SIZE), Math.ceil(to / CHUNK_SIZE)];
  const dataChunks = chunksWithData(disk).filter((i) => i >= first && i < end);
  let pos = from; // virtual offset reached so far
  for await (const [index, data, release] of readChunks(disk, dataChunks, 4, buffers)) {
    const at = index * CHUNK_SIZE;
    for (const zero of zeros(at - pos)) yield [zero, NOTHING];
    const [a, b] = [Math.max(from, at) - at, Math.min(to, at + data.length) - at];
    yield [a === 0 && b === data.length ? data : data.subarray(a, b), release];
    pos = at + b;
  }
  for (const zero of zeros(to - pos)) yield [zero, NOTHING];
}

const NOTHING = () => {};

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
