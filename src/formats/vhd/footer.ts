/**
 * VHD (Connectix / Microsoft "Virtual Hard Disk Image Format Specification" v1.0, QEMU block/vpc.c) footer
 * and dynamic-disk header parsing. All fields are big-endian; checksums are the one's complement of the byte sum.
 */
import type { ByteSource } from '../types.ts';
import { u64be } from '../bytes.ts';
import { fail } from '../errors.ts';
import { readClipped, readExact } from '../source.ts';

export const DISK_FIXED = 2;
export const DISK_DYNAMIC = 3;
export const DISK_DIFFERENCING = 4;
/** QEMU's VHD_MAX_GEOMETRY: CHS at its maximum means "trust current_size". */
const MAX_GEOMETRY_SECTORS = 65535 * 16 * 255;

export interface VhdFooter {
  /** Where the footer was found, and its length (511 for old Virtual PC files). */
  offset: number;
  length: number;
  diskType: number;
  dataOffset: number;
  creator: string;
  virtualSize: number;
}

/** One's complement of the byte sum, skipping the 4-byte checksum field at `skip`. */
export function vhdChecksum(buf: Buffer, skip: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) if (i < skip || i >= skip + 4) sum += buf[i];
  return ~sum >>> 0;
}

/**
 * Finds the footer: the copy at offset 0 (dynamic disks) takes precedence, as in QEMU; otherwise the last
 * 512 (or 511) bytes. Checks cookie and checksum and rejects differencing disks (their parents are host paths).
 */
export async function readVhdFooter(src: ByteSource): Promise<VhdFooter> {
  const head = await readClipped(src, 0, 512, 'VHD footer');
  let footer: Buffer;
  let offset: number;
  if (head.length === 512 && head.toString('latin1', 0, 8) === 'conectix') {
    footer = head;
    offset = 0;
  } else {
    offset = src.size - 512;
    footer = await readExact(src, offset, 512, 'VHD footer');
    if (footer.toString('latin1', 0, 8) !== 'conectix') {
      offset = src.size - 511;
      footer = Buffer.concat([await readExact(src, offset, 511, 'VHD footer'), Buffer.alloc(1)]);
    }
    if (footer.toString('latin1', 0, 8) !== 'conectix') fail('malformed', 'no VHD footer');
  }
  const stored = footer.readUInt32BE(64);
  if (vhdChecksum(footer, 64) !== stored) fail('bad-checksum', `VHD footer at offset ${offset}`);
  const diskType = footer.readUInt32BE(60);
  if (diskType === DISK_DIFFERENCING) fail('backing-file', 'a VHD differencing disk needs its parent disk');
  if (diskType !== DISK_FIXED && diskType !== DISK_DYNAMIC) fail('malformed', `VHD disk type ${diskType}`);
  if (diskType === DISK_FIXED && offset === 0) fail('malformed', 'a fixed VHD footer at the start of the file');
  return {
    offset,
    length: offset === src.size - 511 ? 511 : 512,
    diskType,
    dataOffset: u64be(footer, 16),
    creator: footer.toString('latin1', 28, 32),
    virtualSize: virtualSizeOf(footer),
  };
}

/**
 * QEMU's rule (block/vpc.c, 2025): Virtual PC and old QEMU ('vpc ', 'qemu') size the disk by its CHS geometry;
 * every other creator (Hyper-V, 'qem2', Azure, XenServer, ...) by current_size, as does a maximal geometry.
 */
function virtualSizeOf(footer: Buffer): number {
  const chsSectors = footer.readUInt16BE(56) * footer[58] * footer[59];
  const creator = footer.toString('latin1', 28, 32);
  const useChs = (creator === 'vpc ' || creator === 'qemu') && chsSectors !== MAX_GEOMETRY_SECTORS;
  if (useChs) return chsSectors * 512;
  return Math.floor(u64be(footer, 48) / 512) * 512;
}

export interface DynamicHeader {
  tableOffset: number;
  maxTableEntries: number;
  blockSize: number;
}

export async function readDynamicHeader(src: ByteSource, offset: number): Promise<DynamicHeader> {
  if (offset % 512 !== 0 || offset < 512 || offset + 1024 > src.size) {
    fail('table-out-of-bounds', `VHD dynamic disk header at offset ${offset} (file is ${src.size} bytes)`);
  }
  const h = await readExact(src, offset, 1024, 'VHD dynamic disk header');
  if (h.toString('latin1', 0, 8) !== 'cxsparse') fail('malformed', `no VHD dynamic disk header at offset ${offset}`);
  if (vhdChecksum(h, 36) !== h.readUInt32BE(36)) fail('bad-checksum', `VHD dynamic disk header at offset ${offset}`);
  return { tableOffset: u64be(h, 16), maxTableEntries: h.readUInt32BE(28), blockSize: h.readUInt32BE(32) };
}
