/**
 * What every writer needs from a VirtualDisk: which 64 KiB blocks hold data (from the zero masks
 * alone, no reads) and the chunk bytes in order, with a few reads in flight ahead of the consumer.
 */
import { CHUNK_SIZE, ZERO_BLOCK_SIZE, chunkLength, type VirtualDisk, ZERO_CHUNK, zeroBlockCount } from '../../domain/disk.ts';
import { fail } from '../errors.ts';
import type { ChunkBufferPool } from '../buffer-pool.ts';

/** A run of non-zero 64 KiB blocks of one chunk: blocks [start, end). */
export type BlockRun = readonly [start: number, end: number];

const NO_RUNS: readonly BlockRun[] = [];

/** The chunk's non-zero blocks as ascending runs. Empty when the chunk is all zero. */
export function nonZeroRuns(disk: VirtualDisk, index: number): readonly BlockRun[] {
  const mask = disk.zeroMask(index);
  if (mask === null) return NO_RUNS;
  const blocks = zeroBlockCount(chunkLength(disk.virtualSize, index));
  if (mask === 0n) return [[0, blocks]];
  const lo = Number(mask & 0xffffffffn);
  const hi = Number(mask >> 32n);
  const runs: BlockRun[] = [];
  let start = -1;
  for (let b = 0; b < blocks; b++) {
    const zero = b < 32 ? (lo >>> b) & 1 : (hi >>> (b - 32)) & 1;
    if (!zero && start < 0) start = b;
    else if (zero && start >= 0) {
      runs.push([start, b]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, blocks]);
  return runs;
}

export function runBlockCount(runs: readonly BlockRun[]): number {
  let n = 0;
  for (const [s, e] of runs) n += e - s;
  return n;
}

/** True when any run intersects blocks [from, to). */
export function runsTouch(runs: readonly BlockRun[], from: number, to: number): boolean {
  return runs.some(([s, e]) => s < to && e > from);
}

/** Byte range of a block run inside its chunk, clipped to the chunk's length. */
export function runBytes(run: BlockRun, chunkLen: number): [number, number] {
  return [run[0] * ZERO_BLOCK_SIZE, Math.min(chunkLen, run[1] * ZERO_BLOCK_SIZE)];
}

/**
 * Yields `[index, bytes, release]` for each listed chunk, in order, keeping up to `depth` reads in flight.
 * A chunk the disk reports as null is yielded as zeros. Each buffer has the chunk's exact length. With `buffers`,
 * each chunk is read into a buffer of the pool, and `release` gives it back: call it once the bytes are used.
 */
export async function* readChunks(disk: VirtualDisk, indices: Iterable<number>, depth = 4, buffers?: ChunkBufferPool): AsyncGenerator<[number, Buffer, () => void]> {
  const next = indices[Symbol.iterator]();
  const pending: [number, Promise<Buffer>, () => void][] = [];
  const fill = () => {
    for (let step; pending.length < depth && !(step = next.next()).done;) {
      const into = buffers?.acquire(CHUNK_SIZE);
      const p = readChecked(disk, step.value, into);
      p.catch(() => {}); // rejection is handled where awaited; avoid an unhandled-rejection crash meanwhile
      pending.push([step.value, p, into ? () => buffers!.release(into) : NO_RELEASE]);
    }
  };
  for (fill(); pending.length > 0; fill()) {
    const [index, p, release] = pending.shift()!;
    yield [index, await p, release];
  }
}

const NO_RELEASE = () => {};

async function readChecked(disk: VirtualDisk, index: number, into?: Buffer): Promise<Buffer> {
  const len = chunkLength(disk.virtualSize, index);
  const data = await disk.readChunk(index, into);
  if (data === null) return ZERO_CHUNK.subarray(0, len);
  if (data.length !== len) throw new Error(`chunk ${index} has ${data.length} bytes, expected ${len}`);
  return data;
}

/** `n` zero bytes as shared slices of one zero buffer (never copy, never allocate). */
export function* zeros(n: number): Generator<Buffer> {
  for (let left = n; left > 0; left -= CHUNK_SIZE) yield ZERO_CHUNK.subarray(0, Math.min(left, CHUNK_SIZE));
}

/**
 * Sector-based formats (VHD, VMDK, and qcow2 as QEMU reads it) cannot describe a size that is not a
 * multiple of 512 bytes, and QEMU cannot open them at size 0.
 */
export function requireWholeSectors(size: number, format: string): void {
  if (size <= 0 || size % 512 !== 0) {
    fail('unexportable', `${format} needs a non-empty virtual size that is a multiple of 512 bytes; this image is ${size} bytes. Export it as raw instead.`);
  }
}
