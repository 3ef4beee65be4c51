/**
 * Disk geometry shared by the data plane: virtual disks are cut into 4 MiB chunks aligned to virtual
 * offsets, and each chunk carries a 64-bit zero mask (bit i = 64 KiB block i is all zero).
 * Zero detection compares against a preallocated zero buffer (memcmp runs at 19–67 GB/s); never scan bytes in JS.
 */

/** Virtual-disk bytes per chunk. Chunks are aligned to multiples of this offset. */
export const CHUNK_SIZE = 4 * 1024 * 1024;
/** Granule of the per-chunk zero map: 64 blocks of 64 KiB in a full chunk. */
export const ZERO_BLOCK_SIZE = 64 * 1024;

const BLOCKS_PER_CHUNK = CHUNK_SIZE / ZERO_BLOCK_SIZE;

/** Bytes of chunk `index`: CHUNK_SIZE, except a shorter last chunk when the size is not a multiple of it. */
export function chunkLength(virtualSize: number, index: number): number {
  return Math.min(CHUNK_SIZE, virtualSize - index * CHUNK_SIZE);
}

export function chunkCount(virtualSize: number): number {
  return Math.ceil(virtualSize / CHUNK_SIZE);
}

/**
 * Random access to a disk's virtual bytes, chunk by chunk. Writers (exports) consume this. Disks are
 * sparse: walk `dataChunks()`, never every index below `chunkCount` (a 32 TiB disk has 8 M chunks).
 */
export interface VirtualDisk {
  readonly virtualSize: number;
  readonly chunkCount: number;
  /** The chunks that may hold data (every other chunk's zeroMask is null), ascending. */
  dataChunks(): readonly number[];
  /** null when the chunk is all zero; otherwise its 64-bit zero mask (bit i = block i is zero). */
  zeroMask(index: number): bigint | null;
  /**
   * The chunk's bytes (length = the chunk's virtual length), or null when all zero. `into`, a CHUNK_SIZE buffer the
   * caller owns, may receive them (the answer is then a view of it): from aligned memory a chunk store reads with
   * O_DIRECT.
   */
  readChunk(index: number, into?: Buffer): Promise<Buffer | null>;
}

/** Shared, never written: callers may stream slices of it as zero bytes. */
export const ZERO_CHUNK: Buffer = Buffer.alloc(CHUNK_SIZE);

/** Number of 64 KiB blocks (the last may be partial) in `length` bytes. */
export function zeroBlockCount(length: number): number {
  return Math.ceil(length / ZERO_BLOCK_SIZE);
}

export function isAllZero(buf: Buffer): boolean {
  for (let off = 0; off < buf.length; off += CHUNK_SIZE) {
    const end = Math.min(buf.length, off + CHUNK_SIZE);
    if (!buf.subarray(off, end).equals(ZERO_CHUNK.subarray(0, end - off))) return false;
  }
  return true;
}

/** The mask of an all-zero chunk of `length` bytes (every block bit set). */
export function fullMask(length: number): bigint {
  return (1n << BigInt(zeroBlockCount(length))) - 1n;
}

/** Bit i set when 64 KiB block i of `buf` (a chunk, ≤ 4 MiB) is all zero. */
export function zeroMaskOf(buf: Buffer): bigint {
  if (buf.length > CHUNK_SIZE) throw new RangeError(`zeroMaskOf: ${buf.length} bytes is more than one chunk`);
  if (isAllZero(buf)) return fullMask(buf.length);
  let lo = 0;
  let hi = 0;
  const blocks = zeroBlockCount(buf.length);
  for (let i = 0; i < blocks && i < BLOCKS_PER_CHUNK; i++) {
    const start = i * ZERO_BLOCK_SIZE;
    const end = Math.min(buf.length, start + ZERO_BLOCK_SIZE);
    if (!buf.subarray(start, end).equals(ZERO_CHUNK.subarray(0, end - start))) continue;
    if (i < 32) lo |= 1 << i;
    else hi |= 1 << (i - 32);
  }
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** True when block `i` is all zero according to `mask` (null = the whole chunk is zero). */
export function isZeroBlock(mask: bigint | null, i: number): boolean {
  return mask === null || ((mask >> BigInt(i)) & 1n) === 1n;
}

/** 16 lower-case hex digits, as stored in manifests. */
export function maskToHex(mask: bigint): string {
  if (mask < 0n || mask > 0xffffffffffffffffn) throw new RangeError('zero mask out of 64-bit range');
  return mask.toString(16).padStart(16, '0');
}

export function hexToMask(hex: string): bigint {
  if (!/^[0-9a-fA-F]{16}$/.test(hex)) throw new Error(`zero map must be 16 hex digits, got ${JSON.stringify(hex)}`);
  return BigInt('0x' + hex);
}
