/**
 * A VirtualDisk over a streaming reader, for local conversions: one pass computes every chunk's zero mask
 * (so writers can lay out tables up front), a second pass serves the chunks in index order as writers ask.
 */
import { chunkCount, type VirtualDisk, isAllZero, zeroMaskOf } from '../domain/disk.ts';
import type { DiskReader, ReadChunk } from './types.ts';

export async function readerDisk(reader: DiskReader): Promise<VirtualDisk> {
  const count = chunkCount(reader.virtualSize);
  // Only chunks with data are kept, so the cost follows the data, not the virtual size.
  const masks = new Map<number, bigint>();
  for await (const c of reader.chunks()) {
    if (c.data && !isAllZero(c.data)) masks.set(c.index, zeroMaskOf(c.data));
  }
  const withData = [...masks.keys()].sort((x, y) => x - y);
  let cursor: AsyncIterator<ReadChunk> | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let last = -1;

  async function next(index: number): Promise<Buffer | null> {
    if (index <= last || !cursor) {
      await cursor?.return?.();
      cursor = reader.chunks()[Symbol.asyncIterator]();
      last = -1;
    }
    for (;;) {
      const r = await cursor.next();
      if (r.done) throw new Error(`chunk ${index} is past the end of the disk`);
      last = r.value.index;
      if (r.value.index === index) return r.value.data;
    }
  }

  return {
    virtualSize: reader.virtualSize,
    chunkCount: count,
    dataChunks: () => withData,
    zeroMask: (i) => masks.get(i) ?? null,
    // Writers ask in increasing order with a few requests in flight; serialising keeps the cursor forward-only.
    readChunk(index) {
      const p = chain.then(() => (masks.has(index) ? next(index) : null));
      chain = p.catch(() => undefined);
      return p;
    },
  };
}
