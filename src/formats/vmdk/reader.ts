/**
 * VMDK monolithicSparse and streamOptimized: grain directory (u32 sectors of grain tables) → grain table
 * (u32 sectors of grains; 0 unallocated, 1 zeroed when the flag says so). Stream grains are zlib data behind a
 * 12-byte marker (u64 lba, u32 size). Grain tables are read lazily, one at a time.
 */
import { CHUNK_SIZE } from '../../domain/disk.ts';
import type { ByteSource } from '../types.ts';
import type { Features, OpenedImage } from '../image.ts';
import type { Detection } from '../detect.ts';
import type { Piece } from '../pieces.ts';
import { checkClear, checkDistinct, checkInFile } from '../bytes.ts';
import { fail } from '../errors.ts';
import { checkTableBytes, type Limits } from '../limits.ts';
import { readClipped, readExact } from '../source.ts';
import { readTableRun, TableCache } from '../table-cache.ts';
import { rejectDescriptorFile } from './descriptor.ts';
import { parseVmdkHeader, type VmdkHeader } from './header.ts';
import { HostStarts, meetsAny } from '../host-claims.ts';

const GT_CACHE_BYTES = 4 * 1024 * 1024;
const MAX_DESCRIPTOR_FILE = 1024 * 1024;

export async function openVmdk(src: ByteSource, limits: Limits, detection: Detection): Promise<OpenedImage> {
  const head = await readClipped(src, 0, 4, 'VMDK header');
  if (detection.vmdkDescriptor || head.toString('latin1') !== 'KDMV') {
    if (head.toString('latin1') === 'COWD') fail('unsupported-format', 'VMDK version 3 (COWD) sparse extents');
    rejectDescriptorFile((await readClipped(src, 0, MAX_DESCRIPTOR_FILE, 'VMDK descriptor')).toString('latin1'));
  }
  const h = await parseVmdkHeader(src, limits);
  const gd = await readExact(src, h.gdOffset, h.gdEntries * 4, 'VMDK grain directory');
  return new SparseVmdk(src, h, gd, limits);
}

class SparseVmdk implements OpenedImage {
  readonly virtualSize: number;
  readonly features: Features;
  private readonly grains: number;
  private readonly cache = new TableCache<number>(GT_CACHE_BYTES);

  constructor(private readonly src: ByteSource, private readonly h: VmdkHeader, private readonly gd: Buffer, private readonly limits: Limits) {
    this.virtualSize = h.virtualSize;
    this.grains = Math.ceil(h.virtualSize / h.grainBytes);
    this.features = { subformat: h.createType, grainSize: h.grainBytes, compressed: h.compressed, streamLayout: h.streamLayout };
  }

  /** File offset of grain table `i` (0 = none), checked before use. */
  private gtOffset(i: number): number {
    const off = this.gd.readUInt32LE(i * 4) * 512;
    if (off === 0) return 0;
    const region = { name: 'VMDK grain table', start: off, length: this.h.gtEntries * 4 };
    checkInFile(this.src.size, region);
    checkClear(region, this.h.regions);
    return off;
  }

  async scan(): Promise<number> {
    const starts: number[] = [];
    for (let i = 0; i < this.h.gdEntries; i++) {
      const off = this.gtOffset(i);
      if (off !== 0) starts.push(off);
    }
    checkTableBytes(starts.length * 8, this.limits, 'VMDK grain table index');
    checkDistinct(Float64Array.from(starts), this.h.gtEntries * 4, 'VMDK grain table');
    const grains = new HostStarts((n) => new Uint32Array(n), this.limits, 'VMDK grain');
    let allocated = 0;
    for (let i = 0; i < this.h.gdEntries;) {
      if (this.gtOffset(i) === 0) {
        i++;
        continue;
      }
      for (const gt of await this.readGtRun(i)) {
        const first = i * this.h.gtEntries;
        const last = Math.min(this.grains, first + this.h.gtEntries);
        for (let g = first; g < last; g++) allocated += this.decode(gt, g - first, g, 0, null, grains);
        i++;
      }
    }
    this.checkGrainsUnshared(grains, starts);
    return allocated;
  }

  /**
   * No two grain table entries may share a grain, and no grain may lie over a grain table. A plain grain spans
   * its grain size; a compressed grain (a stream grain behind its marker) at least one sector.
   */
  private checkGrainsUnshared(grains: HostStarts, gtStarts: number[]): void {
    const span = this.h.compressed ? 1 : this.h.grainBytes / 512;
    const sorted = grains.checkDisjoint(() => span, 512);
    const gtSectors = Math.ceil((this.h.gtEntries * 4) / 512);
    for (const off of gtStarts) {
      if (meetsAny(sorted, span, off / 512, gtSectors)) fail('table-overlap', `a VMDK grain overlaps the grain table at offset ${off}`);
    }
  }

  /** Grain table `i` and the ones stored right after it. */
  private readGtRun(i: number): Promise<Buffer[]> {
    return readTableRun(this.src, (k) => this.gtOffset(k), i, this.h.gdEntries, this.h.gtEntries * 4, 'VMDK grain table');
  }

  private async loadGt(i: number): Promise<Buffer> {
    const run = await this.readGtRun(i);
    run.forEach((gt, k) => k > 0 && this.cache.put(i + k, gt));
    return run[0];
  }

  async plan(index: number): Promise<Piece[] | null> {
    const { h } = this;
    const base = index * CHUNK_SIZE;
    const end = Math.min(base + CHUNK_SIZE, this.virtualSize);
    const pieces: Piece[] = [];
    let g = Math.floor(base / h.grainBytes);
    const gEnd = Math.ceil(end / h.grainBytes);
    while (g < gEnd) {
      const i = Math.floor(g / h.gtEntries);
      const first = i * h.gtEntries;
      const stop = Math.min(gEnd, first + h.gtEntries);
      const off = this.gtOffset(i);
      if (off === 0) {
        g = stop;
        continue;
      }
      const gt = await this.cache.get(i, () => this.loadGt(i));
      for (; g < stop; g++) this.decode(gt, g - first, g, base, pieces);
    }
    return pieces.length > 0 ? pieces : null;
  }

  /** Decodes grain table entry `k` (grain `g`), validating it; returns the guest bytes it holds. */
  private decode(gt: Buffer, k: number, g: number, base: number, out: Piece[] | null, grains?: HostStarts): number {
    const { h, src } = this;
    const entry = gt.readUInt32LE(k * 4);
    if (entry === 0 || (entry === 1 && h.zeroedGrains)) return 0;
    const guest = g * h.grainBytes;
    const length = Math.min(h.grainBytes, this.virtualSize - guest);
    const host = entry * 512;
    if (h.compressed) {
      if (host >= src.size) fail('truncated', `VMDK grain at offset ${host} lies beyond the end of the file`);
      checkClear({ name: 'VMDK grain', start: host, length: 512 }, h.regions);
      grains?.add(entry);
      out?.push({ kind: 'compressed', codec: h.markers ? 'vmdk-marker' : 'zlib', at: guest - base, length, host, window: 2 * h.grainBytes, unit: h.grainBytes, skip: 0 });
      return length;
    }
    const region = { name: 'VMDK grain', start: host, length };
    checkInFile(src.size, region, 'truncated');
    checkClear(region, h.regions);
    grains?.add(entry);
    out?.push({ kind: 'data', at: guest - base, length, host });
    return length;
  }
}
