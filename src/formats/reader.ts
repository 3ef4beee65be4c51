/**
 * Streaming readers: `openReader` re-validates the file's headers, then streams the virtual disk as 4 MiB
 * chunks in index order. Chunks with nothing allocated come back as `data: null` without any I/O; the others
 * are read a few chunks ahead so file reads overlap the consumer's hashing and storing.
 */
import { chunkCount, chunkLength } from '../domain/disk.ts';
import type { ByteSource, DiskReader, InspectOptions, Inspection, ReadChunk } from './types.ts';
import { checkDeclared, detect } from './detect.ts';
import type { OpenedImage } from './image.ts';
import { openImage } from './open.ts';
import { resolveLimits } from './limits.ts';
import { fillChunk } from './pieces.ts';
import { fail } from './errors.ts';

export interface ReaderOptions extends Omit<InspectOptions, 'declared'> {
  /** Chunks read ahead of the consumer (default 4, i.e. 16 MiB of buffers). */
  readAhead?: number;
  /** Where chunk buffers come from (default a fresh Buffer each): an importer passes a pool it refills. */
  allocate?: (length: number) => Buffer;
}

export async function openReader(src: ByteSource, inspection: Inspection, opts: ReaderOptions = {}): Promise<DiskReader> {
  const detection = await detect(src, inspection.format);
  const format = checkDeclared(detection.format, inspection.format);
  const image = await openImage(src, format, detection, resolveLimits(opts));
  if (image.virtualSize !== inspection.virtualSize) {
    fail('malformed', `virtual size ${image.virtualSize} differs from the inspected ${inspection.virtualSize}; the file changed`);
  }
  return readerOf(src, image, inspection.allocatedBytes, Math.max(1, opts.readAhead ?? 4), opts.allocate);
}

function readerOf(src: ByteSource, image: OpenedImage, allocated: number, readAhead: number, allocate?: (length: number) => Buffer): DiskReader {
  return {
    virtualSize: image.virtualSize,
    chunks: () => streamChunks(src, image, allocated, readAhead, allocate),
  };
}

/** The chunks in order; the data they map may not exceed what the inspection counted (bounded by the file). */
async function* streamChunks(
  src: ByteSource, image: OpenedImage, allocated: number, readAhead: number, allocate?: (length: number) => Buffer,
): AsyncGenerator<ReadChunk> {
  const size = image.virtualSize;
  const n = chunkCount(size);
  const queue: Promise<ReadChunk>[] = [];
  let mapped = 0;
  for (let index = 0; index < n; index++) {
    const pieces = await image.plan(index);
    for (const p of pieces ?? []) mapped += p.length;
    if (mapped > allocated) fail('malformed', `the file maps more than the ${allocated} bytes of data inspected; the file changed`);
    if (pieces === null && queue.length === 0) {
      yield { index, data: null };
      continue;
    }
    const pending = pieces === null
      ? Promise.resolve({ index, data: null })
      : fillChunk(src, pieces, chunkLength(size, index), allocate).then((data) => ({ index, data }));
    pending.catch(() => {}); // surfaced when awaited below, in order
    queue.push(pending);
    if (queue.length >= readAhead) yield await queue.shift()!;
  }
  while (queue.length > 0) yield await queue.shift()!;
}
