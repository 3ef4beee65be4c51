/**
 * VHD export (QEMU "vpc"): dynamic (2 MiB blocks) and fixed. Creator `qem2` with current_size equal
 * to the exact virtual size, so QEMU, Hyper-V and Azure read the size from the footer, not from CHS.
 * Dynamic layout: footer copy at 0, dynamic header at 512, BAT at 1536 (padded to 512), then for each
 * non-zero 2 MiB block an all-ones sector bitmap and the block data, then the footer.
 */
import { randomBytes } from 'node:crypto';
import { CHUNK_SIZE, chunkLength, type VirtualDisk } from '../../domain/disk.ts';
import { fail } from '../errors.ts';
import { nonZeroRuns, readChunks, requireWholeSectors, runsTouch, zeros } from './disk-chunks.ts';
import { rawBytes } from './raw.ts';
import type { ExportOptions, ExportStream } from './types.ts';

const SECTOR = 512;
const BLOCK = 2 * 1024 * 1024;
const BLOCKS_PER_CHUNK = CHUNK_SIZE / BLOCK;
const ZERO_BLOCKS_PER_VHD_BLOCK = 32; // 64 KiB zero-mask blocks per 2 MiB VHD block
const BAT_OFFSET = 3 * SECTOR;
/** QEMU refuses larger VHDs (2040 GiB). */
export const VHD_MAX_SECTORS = 0xff000000;
const MAX_GEOMETRY_SECTORS = 65535 * 16 * 255;
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);

export type VhdDiskType = 'fixed' | 'dynamic';

export function vhdDynamicExport(disk: VirtualDisk, options: ExportOptions = {}): ExportStream {
  checkVhdSize(disk.virtualSize);
  const footer = vhdFooter(disk.virtualSize, 'dynamic', options);
  const entries = Math.ceil(disk.virtualSize / BLOCK);
  const batBytes = roundUp(entries * 4, SECTOR);
  const dataOffset = BAT_OFFSET + batBytes;
  const allocated = allocatedBlocks(disk);
  const size = dataOffset + allocated.length * (SECTOR + BLOCK) + SECTOR;
  return {
    size,
    async *stream() {
      yield footer;
      yield dynamicHeader(entries);
      yield bat(batBytes, allocated, dataOffset);
      yield* blockData(disk, allocated);
      yield footer;
    },
  };
}

export function vhdFixedExport(disk: VirtualDisk, options: ExportOptions = {}): ExportStream {
  checkVhdSize(disk.virtualSize);
  const footer = vhdFooter(disk.virtualSize, 'fixed', options);
  return {
    size: disk.virtualSize + SECTOR,
    async *stream() {
      yield* rawBytes(disk);
      yield footer;
    },
  };
}

function checkVhdSize(size: number): void {
  requireWholeSectors(size, 'VHD');
  if (size / SECTOR > VHD_MAX_SECTORS) {
    fail('unexportable', `VHD holds at most 2040 GiB; this image is ${size} bytes.`);
  }
}

/** The 512-byte hard disk footer. */
export function vhdFooter(size: number, type: VhdDiskType, options: ExportOptions = {}): Buffer {
  const f = Buffer.alloc(SECTOR);
  f.write('conectix', 0, 'latin1');
  f.writeUInt32BE(2, 8); // features: the reserved bit that is always set
  f.writeUInt32BE(0x00010000, 12);
  if (type === 'fixed') f.writeBigUInt64BE(0xffffffffffffffffn, 16);
  else f.writeBigUInt64BE(BigInt(SECTOR), 16);
  const now = options.now ?? new Date();
  f.writeUInt32BE(Math.max(0, Math.floor((now.getTime() - VHD_EPOCH_MS) / 1000)) >>> 0, 24);
  f.write('qem2', 28, 'latin1');
  f.writeUInt32BE(0x00050003, 32); // creator version, as QEMU writes it
  f.write('Wi2k', 36, 'latin1');
  f.writeBigUInt64BE(BigInt(size), 40);
  f.writeBigUInt64BE(BigInt(size), 48);
  const { cylinders, heads, sectorsPerTrack } = vhdGeometry(size);
  f.writeUInt16BE(cylinders, 56);
  f.writeUInt8(heads, 58);
  f.writeUInt8(sectorsPerTrack, 59);
  f.writeUInt32BE(type === 'fixed' ? 2 : 3, 60);
  uniqueId(options).copy(f, 68);
  f.writeUInt32BE(vhdChecksum(f, 64), 64);
  return f;
}

function dynamicHeader(entries: number): Buffer {
  const h = Buffer.alloc(1024);
  h.write('cxsparse', 0, 'latin1');
  h.writeBigUInt64BE(0xffffffffffffffffn, 8);
  h.writeBigUInt64BE(BigInt(BAT_OFFSET), 16);
  h.writeUInt32BE(0x00010000, 24);
  h.writeUInt32BE(entries, 28);
  h.writeUInt32BE(BLOCK, 32);
  h.writeUInt32BE(vhdChecksum(h, 36), 36);
  return h;
}

/** One's complement of the byte sum, with the 4-byte checksum field at `checksumAt` counted as zero. */
export function vhdChecksum(buf: Buffer, checksumAt: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) if (i < checksumAt || i >= checksumAt + 4) sum += buf[i];
  return ~sum >>> 0;
}

/** CHS geometry from the VHD specification's appendix (as QEMU computes it). */
export function vhdGeometry(size: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  const ts = Math.min(Math.floor(size / SECTOR), MAX_GEOMETRY_SECTORS);
  let spt: number;
  let heads: number;
  let cth: number;
  if (ts >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = Math.floor(ts / spt);
  } else {
    spt = 17;
    cth = Math.floor(ts / spt);
    heads = Math.max(4, Math.ceil(cth / 1024));
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = Math.floor(ts / spt);
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = Math.floor(ts / spt);
    }
  }
  return { cylinders: Math.floor(cth / heads), heads, sectorsPerTrack: spt };
}

/** Indices of the 2 MiB blocks holding any non-zero 64 KiB block, ascending. */
function allocatedBlocks(disk: VirtualDisk): number[] {
  const out: number[] = [];
  for (const c of disk.dataChunks()) {
    const runs = nonZeroRuns(disk, c);
    if (runs.length === 0) continue;
    for (let h = 0; h < BLOCKS_PER_CHUNK; h++) {
      if (runsTouch(runs, h * ZERO_BLOCKS_PER_VHD_BLOCK, (h + 1) * ZERO_BLOCKS_PER_VHD_BLOCK)) out.push(c * BLOCKS_PER_CHUNK + h);
    }
  }
  return out;
}

function bat(batBytes: number, allocated: number[], dataOffset: number): Buffer {
  const t = Buffer.alloc(batBytes, 0xff);
  allocated.forEach((block, j) => t.writeUInt32BE((dataOffset + j * (SECTOR + BLOCK)) / SECTOR, block * 4));
  return t;
}

async function* blockData(disk: VirtualDisk, allocated: number[]): AsyncGenerator<Buffer> {
  const bitmap = Buffer.alloc(SECTOR, 0xff);
  const chunks = [...new Set(allocated.map((b) => Math.floor(b / BLOCKS_PER_CHUNK)))];
  const wanted = new Set(allocated);
  for await (const [index, data] of readChunks(disk, chunks)) {
    const len = chunkLength(disk.virtualSize, index);
    for (let h = 0; h < BLOCKS_PER_CHUNK; h++) {
      if (!wanted.has(index * BLOCKS_PER_CHUNK + h)) continue;
      const from = h * BLOCK;
      const to = Math.min(len, from + BLOCK);
      yield bitmap;
      yield data.subarray(from, to);
      yield* zeros(BLOCK - (to - from)); // the disk's last block is padded to a whole block
    }
  }
}

function uniqueId(options: ExportOptions): Buffer {
  const id = options.uniqueId ?? randomBytes(16);
  if (id.length !== 16) throw new Error('uniqueId must be 16 bytes');
  return id;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
