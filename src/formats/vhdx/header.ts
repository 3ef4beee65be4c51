/**
 * VHDX ([MS-VHDX], QEMU block/vhdx*.c) headers, region table and metadata, little-endian, CRC-32C checksummed.
 * Differencing disks (HasParent, parent locator) and files with a log to replay are rejected.
 */
import type { ByteSource } from '../types.ts';
import { checkInFile, checkNoOverlap, isPowerOfTwo, u64le, type Region } from '../bytes.ts';
import { fail } from '../errors.ts';
import { crc32c } from '../crc32c.ts';
import { checkTableBytes, checkVirtualSize, type Limits } from '../limits.ts';
import { readExact } from '../source.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const HEADER_OFFSETS = [64 * KiB, 128 * KiB];
const REGION_TABLE_OFFSETS = [192 * KiB, 256 * KiB];
const MAX_TABLE_ENTRIES = 2047;

const BAT_REGION = '2DC27766-F623-4200-9D64-115E9BFD4A08';
const METADATA_REGION = '8B7CA206-4790-4B9A-B8FE-575F050F886E';
const FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B';
const VIRTUAL_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8';
const LOGICAL_SECTOR_SIZE = '8141BF1D-A96F-4709-BA47-F233A8FAAB5F';
const PHYSICAL_SECTOR_SIZE = 'CDA348C7-445D-4471-9CC9-E9885251C556';
const PAGE83 = 'BECA12AB-B2E6-4523-93EF-C309E000C746';
const PARENT_LOCATOR = 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C';
const KNOWN_ITEMS = [FILE_PARAMETERS, VIRTUAL_DISK_SIZE, LOGICAL_SECTOR_SIZE, PHYSICAL_SECTOR_SIZE, PAGE83];

export interface VhdxLayout {
  virtualSize: number;
  blockSize: number;
  logicalSectorSize: number;
  /** Payload blocks per sector-bitmap entry in the BAT. */
  chunkRatio: number;
  batOffset: number;
  batEntries: number;
  /** Header area, log, BAT and metadata regions. */
  regions: Region[];
}

/** GUIDs are stored with the first three fields little-endian. */
export function guidAt(b: Buffer, off: number): string {
  const hex = (from: number, to: number) => b.subarray(off + from, off + to).toString('hex');
  const le = (from: number, to: number) => Buffer.from(b.subarray(off + from, off + to)).reverse().toString('hex');
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(8, 10)}-${hex(10, 16)}`.toUpperCase();
}

/** CRC-32C of `b` with its 4-byte checksum field (at offset 4) taken as zero. */
function checksumOk(b: Buffer): boolean {
  const stored = b.readUInt32LE(4);
  const copy = Buffer.from(b);
  copy.writeUInt32LE(0, 4);
  return crc32c(copy) === stored;
}

interface Header {
  sequence: number;
  logGuid: string;
  version: number;
  logLength: number;
  logOffset: number;
}

async function currentHeader(src: ByteSource): Promise<Header> {
  const valid: Header[] = [];
  for (const off of HEADER_OFFSETS) {
    const b = await readExact(src, off, 4 * KiB, 'VHDX header');
    if (b.toString('latin1', 0, 4) !== 'head' || !checksumOk(b)) continue;
    valid.push({ sequence: u64le(b, 8), logGuid: guidAt(b, 48), version: b.readUInt16LE(66), logLength: b.readUInt32LE(68), logOffset: u64le(b, 72) });
  }
  if (valid.length === 0) fail('bad-checksum', 'neither VHDX header is valid');
  return valid.reduce((a, b) => (b.sequence > a.sequence ? b : a));
}

async function regionTable(src: ByteSource): Promise<Buffer> {
  for (const off of REGION_TABLE_OFFSETS) {
    const b = await readExact(src, off, 64 * KiB, 'VHDX region table');
    if (b.toString('latin1', 0, 4) === 'regi' && checksumOk(b)) return b;
  }
  return fail('bad-checksum', 'neither VHDX region table is valid');
}

export async function parseVhdxLayout(src: ByteSource, limits: Limits): Promise<VhdxLayout> {
  const header = await currentHeader(src);
  if (header.version !== 1) fail('unsupported-feature', `VHDX version ${header.version}`);
  if (header.logGuid !== '00000000-0000-0000-0000-000000000000') fail('unsupported-feature', 'the VHDX log has entries to replay (open and close the disk in Hyper-V first)');

  const rt = await regionTable(src);
  const count = rt.readUInt32LE(8);
  if (count > MAX_TABLE_ENTRIES) fail('absurd-size', `${count} VHDX regions`);
  const regions: Region[] = [{ name: 'VHDX header area', start: 0, length: MiB }];
  if (header.logLength > 0) regions.push({ name: 'VHDX log', start: header.logOffset, length: header.logLength });
  let bat: Region | null = null;
  let metadata: Region | null = null;
  for (let i = 0; i < count; i++) {
    const e = 16 + i * 32;
    const guid = guidAt(rt, e);
    const region = { name: `VHDX region ${guid}`, start: u64le(rt, e + 16), length: rt.readUInt32LE(e + 24) };
    if (guid === BAT_REGION) bat = { ...region, name: 'VHDX BAT' };
    else if (guid === METADATA_REGION) metadata = { ...region, name: 'VHDX metadata' };
    else if (rt.readUInt32LE(e + 28) & 1) fail('unsupported-feature', `required VHDX region ${guid}`);
    else continue;
    regions.push(guid === BAT_REGION ? bat! : metadata!);
  }
  if (!bat || !metadata) fail('malformed', 'the VHDX region table lacks the BAT or the metadata region');
  for (const r of regions) checkInFile(src.size, r);
  checkNoOverlap(regions);

  const items = await readMetadata(src, metadata);
  const params = items.get(FILE_PARAMETERS);
  const sizeItem = items.get(VIRTUAL_DISK_SIZE);
  const lssItem = items.get(LOGICAL_SECTOR_SIZE);
  if (!params || params.length < 8 || !sizeItem || sizeItem.length < 8 || !lssItem || lssItem.length < 4) {
    fail('malformed', 'VHDX metadata lacks file parameters, virtual disk size or logical sector size');
  }
  const blockSize = params.readUInt32LE(0);
  if (params.readUInt32LE(4) & 2 || items.has(PARENT_LOCATOR)) fail('backing-file', 'a VHDX differencing disk needs its parent disk');
  if (!isPowerOfTwo(blockSize) || blockSize < MiB || blockSize > 256 * MiB) fail('malformed', `VHDX block size ${blockSize}`);
  const logicalSectorSize = lssItem.readUInt32LE(0);
  if (logicalSectorSize !== 512 && logicalSectorSize !== 4096) fail('malformed', `VHDX logical sector size ${logicalSectorSize}`);
  const virtualSize = u64le(sizeItem, 0);
  checkVirtualSize(virtualSize, limits, 'VHDX');

  const chunkRatio = (2 ** 23 * logicalSectorSize) / blockSize;
  const dataBlocks = Math.ceil(virtualSize / blockSize);
  const batEntries = dataBlocks + Math.floor((dataBlocks - 1) / chunkRatio);
  checkTableBytes(batEntries * 8, limits, 'VHDX BAT');
  if (batEntries * 8 > bat.length) fail('malformed', `the VHDX BAT region holds ${bat.length / 8} entries, the disk needs ${batEntries}`);
  return { virtualSize, blockSize, logicalSectorSize, chunkRatio, batOffset: bat.start, batEntries, regions };
}

/** Metadata items by GUID; items must lie inside the metadata region, and unknown required items are refused. */
async function readMetadata(src: ByteSource, region: Region): Promise<Map<string, Buffer>> {
  if (region.length < 64 * KiB) fail('malformed', 'the VHDX metadata region is smaller than its table');
  const table = await readExact(src, region.start, 64 * KiB, 'VHDX metadata table');
  if (table.toString('latin1', 0, 8) !== 'metadata') fail('malformed', 'no VHDX metadata table');
  const count = table.readUInt16LE(10);
  if (count > MAX_TABLE_ENTRIES) fail('absurd-size', `${count} VHDX metadata entries`);
  const items = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const e = 32 + i * 32;
    const guid = guidAt(table, e);
    const offset = table.readUInt32LE(e + 16);
    const length = table.readUInt32LE(e + 20);
    const required = (table.readUInt32LE(e + 24) & 4) !== 0;
    if (guid === PARENT_LOCATOR) {
      items.set(guid, Buffer.alloc(0));
      continue;
    }
    if (!KNOWN_ITEMS.includes(guid)) {
      if (required) fail('unsupported-feature', `required VHDX metadata item ${guid}`);
      continue;
    }
    if (length > 64 * KiB || (length > 0 && (offset < 64 * KiB || offset + length > region.length))) {
      fail('table-out-of-bounds', `VHDX metadata item ${guid} (${length} bytes at ${offset}) lies outside the metadata region`);
    }
    items.set(guid, await readExact(src, region.start + offset, length, 'VHDX metadata item'));
  }
  return items;
}
