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
import { fillChunk, planFill, type Piece } from './pieces.ts';
import { fail } from './errors.ts';

export interface ReaderOptions extends Omit<InspectOptions, 'declared'> {
  /** Chunks read ahead of the consumer (default 4, i.e. 16 MiB of buffers). */
  readAhead?: number;
  /** Where chunk buffers come from (default a fresh Buffer each): an importer passes a pool it refills. */
  allocate?: (length: number) => Buffer;
  /**
   * A chunk made only of plain file bytes comes back unfilled, with `fill` saying what goes into it, when the source
   * has a file a worker can read (the importer reads and hashes such chunks on its hash workers).
   */
  deferReads?: boolean;
}

export async function openReader(src: ByteSource, inspection: Inspection, opts: ReaderOptions = {}): Promise<DiskReader> {
  const detection = await detect(src, inspection.format);
  const format = checkDeclared(detection.format, inspection.format);
  const image = await openImage(src, format, detection, resolveLimits(opts));
  if (image.virtualSize !== inspection.virtualSize) {
    fail('malformed', `virtual size ${image.virtualSize} differs from the inspected ${inspection.virtualSize}; the file changed`);
  }
  return readerOf(src, image, inspection.allocatedBytes, Math.max(1, opts.readAhead ?? 4), opts.allocate ?? Buffer.allocUnsafe, opts.deferReads ?? false);
}

function readerOf(src: ByteSource, image: OpenedImage, allocated: number, readAhead: number, allocate: (length: number) => Buffer, deferReads: boolean): DiskReader {
  return {
    virtualSize: image.virtualSize,
    chunks: () => streamChunks(src, image, allocated, readAhead, allocate, deferReads),
  };
}

/** The chunks in order; the data they map may not exceed what the inspection counted (bounded by the file). */
async function* streamChunks(
  src: ByteSource, image: OpenedImage, allocated: number, readAhead: number, allocate: (length: number) => Buffer, deferReads: boolean,
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
    const pending = pieces === null ? Promise.resolve({ index, data: null }) : readChunk(src, pieces, index, allocate(chunkLength(size, index)), deferReads);
    pending.catch(() => {}); // surfaced when awaited below, in order
    queue.push(pending);
    if (queue.length >= readAhead) yield await queue.shift()!;
  }
  while (queue.length > 0) yield await queue.shift()!;
}

/** Chunk `index` from its pieces: filled here, or (deferReads) left with its fill when a worker can do it. */
async function readChunk(src: ByteSource, pieces: Piece[], index: number, buf: Buffer, deferReads: boolean): Promise<ReadChunk> {
  const fill = deferReads ? planFill(src, pieces, buf) : null;
  return fill ? { index, data: buf, fill } : { index, data: await fillChunk(src, pieces, buf.length, () => buf) };
}
