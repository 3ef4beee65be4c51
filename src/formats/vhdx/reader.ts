/**
 * VHDX payload blocks through the BAT. Every chunk_ratio payload entries the BAT holds one sector-bitmap entry,
 * which only differencing disks use (and those are rejected), so it is skipped.
 */
import { CHUNK_SIZE } from '../../domain/disk.ts';
import type { ByteSource } from '../types.ts';
import type { Features, OpenedImage } from '../image.ts';
import type { Piece } from '../pieces.ts';
import { checkClear, checkInFile } from '../bytes.ts';
import { fail } from '../errors.ts';
import type { Limits } from '../limits.ts';
import { readExact } from '../source.ts';
import { parseVhdxLayout, type VhdxLayout } from './header.ts';
import { UnitMap } from '../host-claims.ts';

const MiB = 1024 * 1024;
const FULLY_PRESENT = 6;
const PARTIALLY_PRESENT = 7;

export async function openVhdx(src: ByteSource, limits: Limits): Promise<OpenedImage> {
  const layout = await parseVhdxLayout(src, limits);
  const bat = await readExact(src, layout.batOffset, layout.batEntries * 8, 'VHDX BAT');
  return new Vhdx(src, layout, bat, limits);
}

class Vhdx implements OpenedImage {
  readonly virtualSize: number;
  readonly features: Features;
  private readonly blocks: number;

  constructor(private readonly src: ByteSource, private readonly l: VhdxLayout, private readonly bat: Buffer, private readonly limits: Limits) {
    this.virtualSize = l.virtualSize;
    this.blocks = Math.ceil(l.virtualSize / l.blockSize);
    this.features = { blockSize: l.blockSize, logicalSectorSize: l.logicalSectorSize };
  }

  /** File offset of payload block `b`, or -1 when it reads as zeros; checked before use. */
  private blockOffset(b: number): number {
    const at = (b + Math.floor(b / this.l.chunkRatio)) * 8;
    const lo = this.bat.readUInt32LE(at);
    const state = lo & 7;
    if (state <= 3) return -1; // not present, undefined, zero, unmapped
    if (state === PARTIALLY_PRESENT) fail('malformed', `VHDX block ${b} is partially present in a disk without a parent`);
    if (state !== FULLY_PRESENT) fail('malformed', `VHDX block ${b} has state ${state}`);
    const start = (this.bat.readUInt32LE(at + 4) * 4096 + (lo >>> 20)) * MiB;
    const region = { name: `VHDX block ${b}`, start, length: Math.min(this.l.blockSize, this.virtualSize - b * this.l.blockSize) };
    checkInFile(this.src.size, region, 'truncated');
    checkClear(region, this.l.regions);
    return start;
  }

  /** Counts the present blocks and refuses two BAT entries whose blocks share a MiB of the file. */
  async scan(): Promise<number> {
    let allocated = 0;
    const claims = new UnitMap(this.src.size, MiB, this.limits, 'VHDX block');
    for (let b = 0; b < this.blocks; b++) {
      const start = this.blockOffset(b);
      if (start < 0) continue;
      const length = Math.min(this.l.blockSize, this.virtualSize - b * this.l.blockSize);
      claims.claimData(start, length, `VHDX block ${b}`);
      allocated += length;
    }
    return allocated;
  }

  async plan(index: number): Promise<Piece[] | null> {
    const bs = this.l.blockSize;
    const base = index * CHUNK_SIZE;
    const end = Math.min(base + CHUNK_SIZE, this.virtualSize);
    const pieces: Piece[] = [];
    for (let b = Math.floor(base / bs); b * bs < end; b++) {
      const start = this.blockOffset(b);
      if (start < 0) continue;
      const from = Math.max(base, b * bs);
      const to = Math.min(end, (b + 1) * bs);
      pieces.push({ kind: 'data', at: from - base, length: to - from, host: start + from - b * bs });
    }
    return pieces.length > 0 ? pieces : null;
  }
}
