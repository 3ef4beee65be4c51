/** Images qemu-img cannot make: VMware-style streamOptimized VMDKs, ISO 9660 images, GPT disks. */
import { deflateSync } from 'node:zlib';

const SECTOR = 512;
const GRAIN_SECTORS = 128;
const GT_ENTRIES = 512;

function sectors(n: number): number {
  return Math.ceil(n / SECTOR);
}

function marker(value: number, type: number): Buffer {
  const m = Buffer.alloc(SECTOR);
  m.writeBigUInt64LE(BigInt(value), 0);
  m.writeUInt32LE(0, 8);
  m.writeUInt32LE(type, 12);
  return m;
}

function vmdkHeader(capacity: number, gdOffset: bigint, descSectors: number, overhead: number): Buffer {
  const h = Buffer.alloc(SECTOR);
  h.write('KDMV', 0, 'latin1');
  h.writeUInt32LE(3, 4);
  h.writeUInt32LE(0x30001, 8); // newline test, compressed grains, markers
  h.writeBigUInt64LE(BigInt(capacity), 12);
  h.writeBigUInt64LE(BigInt(GRAIN_SECTORS), 20);
  h.writeBigUInt64LE(1n, 28);
  h.writeBigUInt64LE(BigInt(descSectors), 36);
  h.writeUInt32LE(GT_ENTRIES, 44);
  h.writeBigUInt64LE(0n, 48);
  h.writeBigUInt64LE(gdOffset, 56);
  h.writeBigUInt64LE(BigInt(overhead), 64);
  h.write('\n \r\n', 73, 'latin1');
  h.writeUInt16LE(1, 77);
  return h;
}

/**
 * A streamOptimized VMDK as VMware writes it: header with gdOffset = GD_AT_END, grains behind markers, then
 * GT and GD markers with their tables, a footer marker with the real header, and an end-of-stream marker.
 */
export function vmwareStreamVmdk(disk: Buffer, descriptorExtra = ''): Buffer {
  if (disk.length % SECTOR !== 0) throw new Error('disk must be whole sectors');
  const capacity = disk.length / SECTOR;
  const grainBytes = GRAIN_SECTORS * SECTOR;
  const grains = Math.ceil(disk.length / grainBytes);
  const gdEntries = Math.ceil(grains / GT_ENTRIES);
  const descriptor = Buffer.from(
    `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="streamOptimized"\n\n` +
    `RW ${capacity} SPARSE "disk.vmdk"\n\nddb.adapterType = "lsilogic"\n${descriptorExtra}`, 'latin1');
  const descSectors = sectors(descriptor.length);
  const overhead = 1 + descSectors;
  const parts: Buffer[] = [vmdkHeader(capacity, 0xffffffffffffffffn, descSectors, overhead), descriptor, Buffer.alloc(descSectors * SECTOR - descriptor.length)];
  let at = overhead;
  const push = (b: Buffer) => {
    const padded = Buffer.concat([b, Buffer.alloc(sectors(b.length) * SECTOR - b.length)]);
    parts.push(padded);
    at += padded.length / SECTOR;
  };
  const gts = Array.from({ length: gdEntries }, () => Buffer.alloc(GT_ENTRIES * 4));
  const zero = Buffer.alloc(grainBytes);
  for (let g = 0; g < grains; g++) {
    const data = disk.subarray(g * grainBytes, Math.min(disk.length, (g + 1) * grainBytes));
    if (data.equals(zero.subarray(0, data.length))) continue;
    const full = Buffer.concat([data, Buffer.alloc(grainBytes - data.length)]);
    const z = deflateSync(full);
    const head = Buffer.alloc(12);
    head.writeBigUInt64LE(BigInt(g * GRAIN_SECTORS), 0);
    head.writeUInt32LE(z.length, 8);
    gts[Math.floor(g / GT_ENTRIES)].writeUInt32LE(at, (g % GT_ENTRIES) * 4);
    push(Buffer.concat([head, z]));
  }
  const gd = Buffer.alloc(gdEntries * 4);
  gts.forEach((gt, i) => {
    push(marker(sectors(gt.length), 1));
    gd.writeUInt32LE(at, i * 4);
    push(gt);
  });
  push(marker(sectors(gd.length), 2));
  const gdOffset = at;
  push(gd);
  push(marker(1, 3));
  push(vmdkHeader(capacity, BigInt(gdOffset), descSectors, overhead));
  push(marker(0, 0));
  return Buffer.concat(parts);
}

const ISO_BLOCK = 2048;

export interface IsoOptions {
  /** Volume space size written in the PVD (defaults to the real size). */
  declaredBlocks?: number;
  /** Put a protective MBR and a GPT header in the system area (an isohybrid-style polyglot). */
  gpt?: boolean;
}

/** A minimal ISO 9660 image: empty system area, a primary volume descriptor and a terminator. */
export function isoImage(blocks: number, opts: IsoOptions = {}): Buffer {
  const b = Buffer.alloc(blocks * ISO_BLOCK);
  const pvd = 16 * ISO_BLOCK;
  b[pvd] = 1;
  b.write('CD001', pvd + 1, 'latin1');
  b[pvd + 6] = 1;
  b.write('TESTVOLUME'.padEnd(32), pvd + 40, 'latin1');
  const declared = opts.declaredBlocks ?? blocks;
  b.writeUInt32LE(declared, pvd + 80);
  b.writeUInt32BE(declared, pvd + 84);
  b.writeUInt16LE(ISO_BLOCK, pvd + 128);
  b.writeUInt16BE(ISO_BLOCK, pvd + 130);
  const term = 17 * ISO_BLOCK;
  b[term] = 255;
  b.write('CD001', term + 1, 'latin1');
  b[term + 6] = 1;
  if (opts.gpt) writeGpt(b);
  return b;
}

/** Protective MBR plus a GPT header at LBA 1 (CRCs are not checked by the detector). */
export function writeGpt(disk: Buffer): void {
  const e = 446;
  disk[e] = 0;
  disk.set([0x00, 0x02, 0x00], e + 1);
  disk[e + 4] = 0xee;
  disk.set([0xff, 0xff, 0xff], e + 5);
  disk.writeUInt32LE(1, e + 8);
  disk.writeUInt32LE(Math.min(0xffffffff, disk.length / SECTOR - 1), e + 12);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  disk.write('EFI PART', 512, 'latin1');
  disk.writeUInt32LE(0x00010000, 520);
  disk.writeUInt32LE(92, 524);
}
