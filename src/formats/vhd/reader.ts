/**
 * VHD images. Fixed: the guest bytes are the file bytes before the footer. Dynamic: a BAT of u32 sector numbers,
 * one per block; each allocated block is a sector bitmap (bit set = sector holds data, MSB first) then the data.
 */
import { CHUNK_SIZE } from '../../domain/disk.ts';
import type { ByteSource } from '../types.ts';
import type { OpenedImage } from '../image.ts';
import type { Piece } from '../pieces.ts';
import { checkClear, checkInFile, checkNoOverlap, isPowerOfTwo, type Region } from '../bytes.ts';
import { fail } from '../errors.ts';
import { checkTableBytes, checkVirtualSize, type Limits } from '../limits.ts';
import { flatImage } from '../flat.ts';
import { readExact } from '../source.ts';
import { TableCache } from '../table-cache.ts';
import { HostStarts } from '../host-claims.ts';
import { DISK_FIXED, readDynamicHeader, readVhdFooter, type DynamicHeader } from './footer.ts';

const UNALLOCATED = 0xffffffff;
/** QEMU's VHD_MAX_SECTORS: dynamic disks stop at 2040 GiB. */
const MAX_DYNAMIC_BYTES = 0xff000000 * 512;
const MAX_BLOCK_SIZE = 256 * 1024 * 1024;
const BITMAP_CACHE_BYTES = 1024 * 1024;

export async function openVhd(src: ByteSource, limits: Limits): Promise<OpenedImage> {
  const footer = await readVhdFooter(src);
  checkVirtualSize(footer.virtualSize, limits, 'VHD');
  const features = { subformat: footer.diskType === DISK_FIXED ? 'fixed' : 'dynamic', creator: footer.creator.replace(/\0/g, '') };
  if (footer.diskType === DISK_FIXED) {
    if (footer.virtualSize > footer.offset) {
      fail('truncated', `the fixed VHD declares ${footer.virtualSize} bytes but holds ${footer.offset}`);
    }
    return flatImage(footer.virtualSize, features, 0, src.dataExtents);
  }
  const dyn = await readDynamicHeader(src, footer.dataOffset);
  const { blockSize, maxTableEntries } = dyn;
  if (!isPowerOfTwo(blockSize) || blockSize < 512 || blockSize > MAX_BLOCK_SIZE) fail('malformed', `VHD block size ${blockSize}`);
  if (maxTableEntries * blockSize > MAX_DYNAMIC_BYTES) fail('absurd-size', `VHD block table of ${maxTableEntries} entries`);
  checkTableBytes(maxTableEntries * 4, limits, 'VHD block allocation table');
  if (maxTableEntries * blockSize < footer.virtualSize) {
    fail('malformed', `VHD block table of ${maxTableEntries} entries is too small for ${footer.virtualSize} bytes`);
  }
  const fixed: Region[] = [
    { name: 'VHD footer copy', start: 0, length: footer.offset === 0 ? 512 : 0 },
    { name: 'VHD dynamic disk header', start: footer.dataOffset, length: 1024 },
    { name: 'VHD block allocation table', start: dyn.tableOffset, length: Math.ceil((maxTableEntries * 4) / 512) * 512 },
  ];
  checkInFile(src.size, fixed[2]);
  checkNoOverlap(fixed);
  const bat = await readExact(src, dyn.tableOffset, maxTableEntries * 4, 'VHD block allocation table');
  return new DynamicVhd(src, footer.virtualSize, dyn, bat, fixed, limits, { ...features, blockSize });
}

class DynamicVhd implements OpenedImage {
  private readonly blockSize: number;
  private readonly bitmapBytes: number;
  private readonly bitmaps = new TableCache<number>(BITMAP_CACHE_BYTES);

  constructor(
    private readonly src: ByteSource, readonly virtualSize: number, dyn: DynamicHeader, private readonly bat: Buffer,
    private readonly fixed: Region[], private readonly limits: Limits, readonly features: Record<string, string | number | boolean>,
  ) {
    this.blockSize = dyn.blockSize;
    this.bitmapBytes = Math.ceil(dyn.blockSize / 512 / 8 / 512) * 512;
  }

  /** File offset of block `b`'s bitmap, or -1 when the block is unallocated; checked before use. */
  private blockOffset(b: number): number {
    const sector = this.bat.readUInt32BE(b * 4);
    if (sector === UNALLOCATED) return -1;
    const start = sector * 512;
    const region = { name: `VHD block ${b}`, start, length: this.bitmapBytes + this.blockSize };
    checkInFile(this.src.size, region, 'truncated');
    checkClear(region, this.fixed);
    return start;
  }

  /** Counts the allocated blocks and refuses two BAT entries whose blocks share a byte. */
  async scan(): Promise<number> {
    let allocated = 0;
    const blocks = Math.ceil(this.virtualSize / this.blockSize);
    const starts = new HostStarts((n) => new Uint32Array(n), this.limits, 'VHD block');
    for (let b = 0; b < blocks; b++) {
      const start = this.blockOffset(b);
      if (start < 0) continue;
      allocated += Math.min(this.blockSize, this.virtualSize - b * this.blockSize);
      starts.add(start / 512);
    }
    const sectors = (this.bitmapBytes + this.blockSize) / 512;
    starts.checkDisjoint(() => sectors, 512);
    return allocated;
  }

  async plan(index: number): Promise<Piece[] | null> {
    const base = index * CHUNK_SIZE;
    const end = Math.min(base + CHUNK_SIZE, this.virtualSize);
    const pieces: Piece[] = [];
    for (let b = Math.floor(base / this.blockSize); b * this.blockSize < end; b++) {
      const start = this.blockOffset(b);
      if (start < 0) continue;
      const blockGuest = b * this.blockSize;
      const from = Math.max(base, blockGuest);
      const to = Math.min(end, blockGuest + this.blockSize);
      const bitmap = await this.bitmaps.get(b, () => readExact(this.src, start, this.bitmapBytes, 'VHD sector bitmap'));
      const data = start + this.bitmapBytes - blockGuest; // host = data + guest offset
      forEachSetRun(bitmap, (from - blockGuest) / 512, (to - blockGuest) / 512, (s, n) => {
        pieces.push({ kind: 'data', at: blockGuest + s * 512 - base, length: n * 512, host: data + blockGuest + s * 512 });
      });
    }
    return pieces.length > 0 ? pieces : null;
  }
}

/** Calls `emit(first, count)` for each run of set bits (MSB first) among sectors [from, to). Whole bytes are fast. */
export function forEachSetRun(bitmap: Buffer, from: number, to: number, emit: (first: number, count: number) => void): void {
  let runStart = -1;
  let s = from;
  while (s < to) {
    const byte = bitmap[s >> 3];
    if ((s & 7) === 0 && s + 8 <= to && (byte === 0xff || byte === 0)) {
      if (byte === 0xff && runStart < 0) runStart = s;
      if (byte === 0 && runStart >= 0) {
        emit(runStart, s - runStart);
        runStart = -1;
      }
      s += 8;
      continue;
    }
    const set = (byte >> (7 - (s & 7))) & 1;
    if (set && runStart < 0) runStart = s;
    if (!set && runStart >= 0) {
      emit(runStart, s - runStart);
      runStart = -1;
    }
    s++;
  }
  if (runStart >= 0) emit(runStart, to - runStart);
}
