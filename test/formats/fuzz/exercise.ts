/**
 * One fuzz case: inspect the file, then stream the disk it describes, through a source that fails the case on
 * any read outside the file and counts the bytes read. The file is either read in full or refused with a
 * FormatError; anything else thrown escapes to the caller as a crash.
 */
import assert from 'node:assert/strict';
import { chunkCount, chunkLength } from '../../../src/domain/disk.ts';
import { bufferSource, inspect, openReader } from '../../../src/formats/index.ts';
import { FormatError } from '../../../src/formats/errors.ts';
import type { ByteSource } from '../../../src/formats/types.ts';

/** Disks larger than this are inspected but not streamed (a sparse 2 TiB disk is half a million empty chunks). */
export const STREAM_LIMIT = 256 * 1024 * 1024;

/**
 * Bytes a case may read, as a multiple of the file's size (plus the detector's 64 KiB head and 1 KiB tail).
 * Inspection reads every table once and the reader every table and data unit once more, so a few times the
 * file is plenty; a reader that re-reads one table per chunk or per entry goes far past it.
 */
export const READ_BUDGET_FACTOR = 6;
const FIXED_READS = 2 * (64 * 1024 + 1024);

export type Outcome = { result: 'accepted'; format: string; virtualSize: number } | { result: 'refused'; reason: string };

function countingSource(file: Buffer): ByteSource & { bytesRead: number } {
  const inner = bufferSource(file);
  const source = {
    size: file.length,
    bytesRead: 0,
    async read(buf: Buffer, offset: number, length: number, position: number) {
      assert.ok(Number.isSafeInteger(position) && position >= 0 && length >= 0 && position + length <= file.length,
        `read of ${length} bytes at ${position} outside the ${file.length}-byte file`);
      assert.ok(offset >= 0 && offset + length <= buf.length, `read into ${offset}+${length} of a ${buf.length}-byte buffer`);
      source.bytesRead += length;
      return inner.read(buf, offset, length, position);
    },
  };
  return source;
}

async function readWhole(src: ByteSource, format: string, virtualSize: number, allocatedBytes: number): Promise<void> {
  const reader = await openReader(src, { format: format as never, virtualSize, allocatedBytes, features: {} });
  let next = 0;
  for await (const chunk of reader.chunks()) {
    assert.equal(chunk.index, next, 'chunks come in order');
    if (chunk.data) assert.equal(chunk.data.length, chunkLength(virtualSize, chunk.index));
    next++;
  }
  assert.equal(next, chunkCount(virtualSize), 'every chunk is produced');
}

export async function exercise(file: Buffer): Promise<Outcome> {
  const src = countingSource(file);
  try {
    const i = await inspect(src);
    assert.ok(i.virtualSize > 0 && i.virtualSize % 512 === 0, `virtual size ${i.virtualSize}`);
    assert.ok(i.allocatedBytes >= 0 && i.allocatedBytes <= i.virtualSize, `allocated ${i.allocatedBytes} of ${i.virtualSize}`);
    if (i.virtualSize <= STREAM_LIMIT) await readWhole(src, i.format, i.virtualSize, i.allocatedBytes);
    return { result: 'accepted', format: i.format, virtualSize: i.virtualSize };
  } catch (e) {
    if (e instanceof FormatError) return { result: 'refused', reason: e.reason };
    throw e;
  } finally {
    const budget = READ_BUDGET_FACTOR * file.length + FIXED_READS;
    assert.ok(src.bytesRead <= budget, `read ${src.bytesRead} bytes of a ${file.length}-byte file (budget ${budget})`);
  }
}
