/** raw export: the virtual bytes themselves; zero chunks come from one shared zero buffer. */
import fs from 'node:fs/promises';
import { CHUNK_SIZE, chunkLength, type VirtualDisk } from '../../domain/disk.ts';
import { nonZeroRuns, readChunks, runBytes, zeros } from './disk-chunks.ts';
import type { ExportStream } from './types.ts';

export function rawExport(disk: VirtualDisk): ExportStream {
  return { size: disk.virtualSize, stream: () => rawBytes(disk) };
}

/** The disk's virtual bytes, in order. Also the body of a fixed VHD. */
export async function* rawBytes(disk: VirtualDisk): AsyncGenerator<Buffer> {
  const dataChunks = chunksWithData(disk);
  let pos = 0; // virtual offset reached so far
  for await (const [index, data] of readChunks(disk, dataChunks)) {
    yield* zeros(index * CHUNK_SIZE - pos);
    yield data;
    pos = index * CHUNK_SIZE + data.length;
  }
  yield* zeros(disk.virtualSize - pos);
}

export function chunksWithData(disk: VirtualDisk): number[] {
  return disk.dataChunks().filter((i) => nonZeroRuns(disk, i).length > 0);
}

/**
 * Writes the disk as a sparse raw file: only non-zero 64 KiB runs are written, zero ranges are
 * holes, and ftruncate sets the exact length. fsyncs before returning.
 */
export async function writeSparseRaw(disk: VirtualDisk, path: string): Promise<{ bytes: number }> {
  const fh = await fs.open(path, 'w');
  try {
    for await (const [index, data] of readChunks(disk, chunksWithData(disk))) {
      const len = chunkLength(disk.virtualSize, index);
      for (const run of nonZeroRuns(disk, index)) {
        const [from, to] = runBytes(run, len);
        await writeFully(fh, data.subarray(from, to), index * CHUNK_SIZE + from);
      }
    }
    await fh.truncate(disk.virtualSize);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { bytes: disk.virtualSize };
}

export async function writeFully(fh: fs.FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}
