/**
 * Small valid images of every format the readers take, built in memory (no qemu-img): the seeds of the fuzz
 * suite and the base of hand-built regression files. Each builder lays out the file the way QEMU (or VMware,
 * Hyper-V) would, only with the smallest clusters, blocks and grains the readers accept.
 */
import { deflateRawSync } from 'node:zlib';
import { crc32c } from '../../src/formats/crc32c.ts';
import { vhdChecksum } from '../../src/formats/vhd/footer.ts';
import { vhdFooter } from '../../src/formats/writers/vhd.ts';

const SECTOR = 512;
const KiB = 1024;
const MiB = 1024 * KiB;

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function isZero(b: Buffer): boolean {
  return b.every((x) => x === 0);
}

/** The guest bytes of unit `i` of `size` bytes, zero-padded to a whole unit. */
function unitOf(disk: Buffer, i: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  disk.copy(out, 0, i * size, Math.min(disk.length, (i + 1) * size));
  return out;
}

/** A deterministic sample disk: data at the start, a gap, data mid-way, and a non-zero last sector. */
export function sampleDisk(size: number, seed = 1): Buffer {
  const disk = Buffer.alloc(size);
  let x = seed;
  const fill = (from: number, to: number) => {
    for (let i = from; i < Math.min(to, size); i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      disk[i] = x >>> 24;
    }
  };
  fill(0, size / 8);
  fill(size / 2, size / 2 + size / 16);
  fill(size - SECTOR, size);
  return disk;
}

export interface Qcow2Options {
  clusterBits?: number;
  extendedL2?: boolean;
  /** Store every data cluster deflate-compressed, packed byte after byte as QEMU does. */
  compressed?: boolean;
}

/**
 * qcow2 v3: header cluster, refcount table, one refcount block, L1, the L2 tables that map data, data clusters,
 * then compressed clusters. Every cluster's refcount is 1.
 */
export function qcow2Image(disk: Buffer, opts: Qcow2Options = {}): Buffer {
  const bits = opts.clusterBits ?? 12;
  const cs = 2 ** bits;
  const entryBytes = opts.extendedL2 ? 16 : 8;
  const l2Entries = cs / entryBytes;
  const guestClusters = Math.ceil(disk.length / cs);
  const l1Size = Math.ceil(guestClusters / l2Entries);
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const allocated = Array.from({ length: guestClusters }, (_, c) => c).filter((c) => !isZero(unitOf(disk, c, cs)));
  const tables = [...new Set(allocated.map((c) => Math.floor(c / l2Entries)))];
  const l1Offset = 3 * cs;
  const l2Offset = l1Offset + l1Clusters * cs;
  const dataOffset = l2Offset + tables.length * cs;
  const l1 = Buffer.alloc(l1Clusters * cs);
  const l2 = Buffer.alloc(tables.length * cs);
  tables.forEach((t, k) => l1.writeBigUInt64BE((1n << 63n) | BigInt(l2Offset + k * cs), t * 8));
  const data: Buffer[] = [];
  let compressedAt = dataOffset;
  allocated.forEach((c, n) => {
    const at = tables.indexOf(Math.floor(c / l2Entries)) * cs + (c % l2Entries) * entryBytes;
    const bytes = unitOf(disk, c, cs);
    if (opts.compressed) {
      const z = deflateRawSync(bytes);
      const extraSectors = Math.floor((compressedAt + z.length - 1) / SECTOR) - Math.floor(compressedAt / SECTOR);
      l2.writeBigUInt64BE((1n << 62n) | (BigInt(extraSectors) << BigInt(62 - (bits - 8))) | BigInt(compressedAt), at);
      data.push(z);
      compressedAt += z.length;
      return;
    }
    l2.writeBigUInt64BE((1n << 63n) | BigInt(dataOffset + n * cs), at);
    if (opts.extendedL2) l2.writeUInt32BE(0xffffffff, at + 12); // every subcluster allocated
    data.push(bytes);
  });
  const body = Buffer.concat(data);
  const fileSize = roundUp(dataOffset + body.length, cs);
  const clusters = fileSize / cs;
  if (clusters > cs / 2) throw new Error('qcow2Image: one refcount block is too small for this disk');
  const refTable = Buffer.alloc(cs);
  refTable.writeBigUInt64BE(BigInt(2 * cs), 0);
  const refBlock = Buffer.alloc(cs);
  for (let i = 0; i < clusters; i++) refBlock.writeUInt16BE(1, i * 2);

  const h = Buffer.alloc(cs);
  h.writeUInt32BE(0x514649fb, 0);
  h.writeUInt32BE(3, 4);
  h.writeUInt32BE(bits, 20);
  h.writeBigUInt64BE(BigInt(disk.length), 24);
  h.writeUInt32BE(l1Size, 36);
  h.writeBigUInt64BE(BigInt(l1Offset), 40);
  h.writeBigUInt64BE(BigInt(cs), 48);
  h.writeUInt32BE(1, 56);
  if (opts.extendedL2) h.writeUInt32BE(16, 76); // incompatible feature: extended L2 entries
  h.writeUInt32BE(4, 96);
  h.writeUInt32BE(104, 100);
  const file = Buffer.concat([h, refTable, refBlock, l1, l2, body]);
  return Buffer.concat([file, Buffer.alloc(fileSize - file.length)]);
}

const FIXED_FOOTER = { now: new Date(Date.UTC(2024, 0, 1)), uniqueId: Buffer.alloc(16, 7) };

/** Fixed VHD: the disk, then its footer. */
export function vhdFixedImage(disk: Buffer): Buffer {
  return Buffer.concat([disk, vhdFooter(disk.length, 'fixed', FIXED_FOOTER)]);
}

/** Dynamic VHD with `blockSize`-byte blocks: footer copy, dynamic header, BAT, then bitmap + data per block. */
export function vhdDynamicImage(disk: Buffer, blockSize = 4 * KiB): Buffer {
  const footer = vhdFooter(disk.length, 'dynamic', FIXED_FOOTER);
  const entries = Math.ceil(disk.length / blockSize);
  const batBytes = roundUp(entries * 4, SECTOR);
  const bitmapBytes = roundUp(blockSize / SECTOR / 8, SECTOR);
  const header = Buffer.alloc(1024);
  header.write('cxsparse', 0, 'latin1');
  header.writeBigUInt64BE(0xffffffffffffffffn, 8);
  header.writeBigUInt64BE(BigInt(3 * SECTOR), 16);
  header.writeUInt32BE(0x00010000, 24);
  header.writeUInt32BE(entries, 28);
  header.writeUInt32BE(blockSize, 32);
  header.writeUInt32BE(vhdChecksum(header, 36), 36);
  const bat = Buffer.alloc(batBytes, 0xff);
  const blocks: Buffer[] = [];
  let sector = (3 * SECTOR + batBytes) / SECTOR;
  for (let b = 0; b < entries; b++) {
    const data = unitOf(disk, b, blockSize);
    if (isZero(data)) continue;
    bat.writeUInt32BE(sector, b * 4);
    blocks.push(Buffer.alloc(bitmapBytes, 0xff), data);
    sector += (bitmapBytes + blockSize) / SECTOR;
  }
  return Buffer.concat([footer, header, bat, ...blocks, footer]);
}

/**
 * monolithicSparse VMDK as QEMU lays it out: header, embedded descriptor, grain directory, every grain table
 * preallocated, then the grains. Small grains and grain tables so a small disk has several of each.
 */
export function vmdkSparseImage(disk: Buffer, grainSectors = 8, gtEntries = 16): Buffer {
  const capacity = disk.length / SECTOR;
  const grainBytes = grainSectors * SECTOR;
  const grains = Math.ceil(capacity / grainSectors);
  const gdEntries = Math.ceil(capacity / (gtEntries * grainSectors));
  const descriptor = Buffer.from(
    `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="monolithicSparse"\n\n` +
    `RW ${capacity} SPARSE "disk.vmdk"\n\nddb.adapterType = "ide"\n`, 'latin1');
  const descSectors = Math.ceil(descriptor.length / SECTOR);
  const gdSector = 1 + descSectors;
  const gdSectors = Math.ceil((gdEntries * 4) / SECTOR);
  const gtSectors = Math.ceil((gtEntries * 4) / SECTOR);
  const firstGt = gdSector + gdSectors;
  const overhead = roundUp(firstGt + gdEntries * gtSectors, grainSectors);
  const gd = Buffer.alloc(gdSectors * SECTOR);
  const gts = Buffer.alloc(gdEntries * gtSectors * SECTOR);
  for (let i = 0; i < gdEntries; i++) gd.writeUInt32LE(firstGt + i * gtSectors, i * 4);
  const data: Buffer[] = [];
  let next = overhead;
  for (let g = 0; g < grains; g++) {
    const bytes = unitOf(disk, g, grainBytes);
    if (isZero(bytes)) continue;
    gts.writeUInt32LE(next, Math.floor(g / gtEntries) * gtSectors * SECTOR + (g % gtEntries) * 4);
    data.push(bytes);
    next += grainSectors;
  }
  const h = Buffer.alloc(SECTOR);
  h.write('KDMV', 0, 'latin1');
  h.writeUInt32LE(1, 4);
  h.writeUInt32LE(1, 8); // the newline test bytes are valid
  h.writeBigUInt64LE(BigInt(capacity), 12);
  h.writeBigUInt64LE(BigInt(grainSectors), 20);
  h.writeBigUInt64LE(1n, 28);
  h.writeBigUInt64LE(BigInt(descSectors), 36);
  h.writeUInt32LE(gtEntries, 44);
  h.writeBigUInt64LE(BigInt(gdSector), 56);
  h.writeBigUInt64LE(BigInt(overhead), 64);
  h.write('\n \r\n', 73, 'latin1');
  const desc = Buffer.alloc(descSectors * SECTOR);
  descriptor.copy(desc);
  const meta = Buffer.concat([h, desc, gd, gts]);
  return Buffer.concat([meta, Buffer.alloc(overhead * SECTOR - meta.length), ...data]);
}

/** GUID text as stored on disk (first three fields little-endian). */
function guid(text: string): Buffer {
  const hex = text.replace(/-/g, '');
  const le = (from: number, to: number) => Buffer.from(hex.slice(from, to), 'hex').reverse();
  return Buffer.concat([le(0, 8), le(8, 12), le(12, 16), Buffer.from(hex.slice(16), 'hex')]);
}

export const VHDX_BAT_GUID = '2DC27766-F623-4200-9D64-115E9BFD4A08';
const VHDX_METADATA_GUID = '8B7CA206-4790-4B9A-B8FE-575F050F886E';
const VHDX_ITEMS = {
  fileParameters: 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B',
  virtualDiskSize: '2FA54224-CD1B-4876-B211-5DBED83BF4B8',
  logicalSectorSize: '8141BF1D-A96F-4709-BA47-F233A8FAAB5F',
  physicalSectorSize: 'CDA348C7-445D-4471-9CC9-E9885251C556',
  page83: 'BECA12AB-B2E6-4523-93EF-C309E000C746',
};

/** Re-signs the CRC-32C (at offset 4) of the `length`-byte VHDX structure at `offset`. */
export function signVhdx(file: Buffer, offset: number, length: number): void {
  const b = file.subarray(offset, offset + length);
  b.writeUInt32LE(0, 4);
  b.writeUInt32LE(crc32c(b), 4);
}

/** VHDX offsets of the two headers and the two region tables, with their lengths. */
export const VHDX_SIGNED: [number, number][] = [[64 * KiB, 4 * KiB], [128 * KiB, 4 * KiB], [192 * KiB, 64 * KiB], [256 * KiB, 64 * KiB]];

/**
 * VHDX with 1 MiB blocks: the 1 MiB header area (two headers, two region tables), the BAT at 1 MiB, the
 * metadata region at 2 MiB, then each present block at a MiB offset from 3 MiB on.
 */
export function vhdxImage(disk: Buffer): Buffer {
  const blockSize = MiB;
  const blocks = Math.ceil(disk.length / blockSize);
  const batOffset = MiB;
  const batLength = MiB;
  const metaOffset = 2 * MiB;
  const metaLength = MiB;
  const present = Array.from({ length: blocks }, (_, b) => b).filter((b) => !isZero(unitOf(disk, b, blockSize)));
  const fileSize = (3 + present.length) * MiB;
  const f = Buffer.alloc(fileSize);
  f.write('vhdxfile', 0, 'latin1');
  for (const [n, at] of [[1, 64 * KiB], [2, 128 * KiB]]) {
    f.write('head', at, 'latin1');
    f.writeBigUInt64LE(BigInt(n), at + 8);
    f.writeUInt16LE(1, at + 66);
    f.writeBigUInt64LE(BigInt(MiB), at + 72); // no log (length 0), but QEMU wants its offset past the header area
    signVhdx(f, at, 4 * KiB);
  }
  for (const at of [192 * KiB, 256 * KiB]) {
    f.write('regi', at, 'latin1');
    f.writeUInt32LE(2, at + 8);
    [[VHDX_BAT_GUID, batOffset, batLength], [VHDX_METADATA_GUID, metaOffset, metaLength]].forEach(([id, offset, length], i) => {
      const e = at + 16 + i * 32;
      guid(id as string).copy(f, e);
      f.writeBigUInt64LE(BigInt(offset), e + 16);
      f.writeUInt32LE(length as number, e + 24);
      f.writeUInt32LE(1, e + 28);
    });
    signVhdx(f, at, 64 * KiB);
  }
  const items: [string, Buffer][] = [
    [VHDX_ITEMS.fileParameters, Buffer.from([0, 0, 0x10, 0, 0, 0, 0, 0])],
    [VHDX_ITEMS.virtualDiskSize, Buffer.from(new BigUint64Array([BigInt(disk.length)]).buffer)],
    [VHDX_ITEMS.logicalSectorSize, Buffer.from([0, 2, 0, 0])],
    [VHDX_ITEMS.physicalSectorSize, Buffer.from([0, 0x10, 0, 0])],
    [VHDX_ITEMS.page83, Buffer.alloc(16, 3)],
  ];
  f.write('metadata', metaOffset, 'latin1');
  f.writeUInt16LE(items.length, metaOffset + 10);
  let itemAt = 64 * KiB;
  items.forEach(([id, value], i) => {
    const e = metaOffset + 32 + i * 32;
    guid(id).copy(f, e);
    f.writeUInt32LE(itemAt, e + 16);
    f.writeUInt32LE(value.length, e + 20);
    f.writeUInt32LE(i === 4 ? 2 : 6, e + 24); // virtual-disk item, required (page83 is not required)
    value.copy(f, metaOffset + itemAt);
    itemAt += 8 * Math.ceil(value.length / 8);
  });
  present.forEach((b, k) => {
    const mb = 3 + k;
    f.writeUInt32LE(((mb & 0xfff) << 20 | 6) >>> 0, batOffset + b * 8);
    f.writeUInt32LE(Math.floor(mb / 4096), batOffset + b * 8 + 4);
    disk.copy(f, mb * MiB, b * blockSize, Math.min(disk.length, (b + 1) * blockSize));
  });
  return f;
}
