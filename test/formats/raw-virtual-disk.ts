/**
 * A VirtualDisk over a raw file, for tests and benchmarks. The zero masks are computed once at open
 * (one sequential read of the file), the way an import computes them for a manifest.
 */
import fs from 'node:fs/promises';
import { CHUNK_SIZE, chunkCount, chunkLength, type VirtualDisk, fullMask, zeroMaskOf } from '../../src/domain/disk.ts';

export interface RawVirtualDisk extends VirtualDisk {
  close(): Promise<void>;
}

export async function openRawVirtualDisk(file: string): Promise<RawVirtualDisk> {
  const fh = await fs.open(file, 'r');
  try {
    const { size: virtualSize } = await fh.stat();
    const count = chunkCount(virtualSize);
    const masks: (bigint | null)[] = new Array(count);
    const buf = Buffer.allocUnsafe(CHUNK_SIZE);
    for (let i = 0; i < count; i++) {
      const len = chunkLength(virtualSize, i);
      await readFully(fh, buf, len, i * CHUNK_SIZE);
      const mask = zeroMaskOf(buf.subarray(0, len));
      masks[i] = mask === fullMask(len) ? null : mask;
    }
    return {
      virtualSize,
      chunkCount: count,
      dataChunks: () => masks.flatMap((m, i) => (m === null ? [] : [i])),
      zeroMask: (index) => checkIndex(index, count) && masks[index],
      async readChunk(index) {
        checkIndex(index, count);
        if (masks[index] === null) return null;
        const len = chunkLength(virtualSize, index);
        const data = Buffer.allocUnsafe(len);
        await readFully(fh, data, len, index * CHUNK_SIZE);
        return data;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

function checkIndex(index: number, count: number): true {
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`chunk index ${index} out of range`);
  return true;
}

async function readFully(fh: fs.FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${position + done}`);
    done += bytesRead;
  }
}
