/**
 * VMDK hosted sparse extent header (VMware "Virtual Disk Format 5.0", QEMU block/vmdk.c), little-endian.
 * Handles the VMware stream layout where the header says GD_AT_END and the real header is a footer near EOF.
 */
import type { ByteSource } from '../types.ts';
import { checkInFile, checkNoOverlap, isPowerOfTwo, u64le, type Region } from '../bytes.ts';
import { fail } from '../errors.ts';
import { checkTableBytes, checkVirtualSize, MAX_L1_BYTES, type Limits } from '../limits.ts';
import { readExact } from '../source.ts';
import { checkEmbeddedDescriptor } from './descriptor.ts';

const FLAG_NEWLINE_TEST = 1;
const FLAG_REDUNDANT_GT = 2;
const FLAG_ZEROED_GRAIN = 4;
const FLAG_MARKERS = 1 << 17;
const MARKER_EOS = 0;
const MARKER_FOOTER = 3;
const MAX_DESCRIPTOR_SECTORS = 2048;
const MIN_GRAIN_SECTORS = 8;
const MAX_GRAIN_SECTORS = 4096;

export interface VmdkHeader {
  virtualSize: number;
  grainBytes: number;
  gtEntries: number;
  gdOffset: number;
  gdEntries: number;
  compressed: boolean;
  markers: boolean;
  zeroedGrains: boolean;
  createType: string;
  streamLayout: 'header' | 'footer';
  /** Header, descriptor, grain directories and footer: nothing else may overlap them. */
  regions: Region[];
}

interface RawHeader {
  version: number;
  flags: number;
  capacity: number;
  grain: number;
  descOffset: number;
  descSize: number;
  gtEntries: number;
  rgdOffset: number;
  gdAtEnd: boolean;
  gdOffset: number;
  compressAlgorithm: number;
}

function parseRaw(b: Buffer, where: string): RawHeader {
  if (b.toString('latin1', 0, 4) !== 'KDMV') fail('malformed', `no VMDK sparse header ${where}`);
  const version = b.readUInt32LE(4);
  if (version < 1 || version > 3) fail('unsupported-feature', `VMDK sparse extent version ${version}`);
  const flags = b.readUInt32LE(8);
  if (flags & FLAG_NEWLINE_TEST && b.toString('latin1', 73, 77) !== '\n \r\n') {
    fail('malformed', 'the VMDK newline check bytes are damaged (text-mode transfer?)');
  }
  return {
    version, flags,
    capacity: u64le(b, 12),
    grain: u64le(b, 20),
    descOffset: u64le(b, 28),
    descSize: u64le(b, 36),
    gtEntries: b.readUInt32LE(44),
    rgdOffset: u64le(b, 48),
    gdAtEnd: b.readUInt32LE(56) === 0xffffffff && b.readUInt32LE(60) === 0xffffffff,
    gdOffset: u64le(b, 56),
    compressAlgorithm: b.readUInt16LE(77),
  };
}

/** VMware streams: footer marker, header copy, end-of-stream marker in the last three sectors. */
async function readFooter(src: ByteSource, header: RawHeader): Promise<RawHeader> {
  const end = Math.floor(src.size / 512) * 512;
  if (end < 2048) fail('truncated', 'the VMDK stream has no room for its footer');
  const f = await readExact(src, end - 1536, 1536, 'VMDK footer');
  const marker = f.subarray(0, 512);
  const eos = f.subarray(1024, 1536);
  if (marker.readUInt32LE(8) !== 0 || marker.readUInt32LE(12) !== MARKER_FOOTER || u64le(eos, 0) !== 0 || eos.readUInt32LE(8) !== 0 || eos.readUInt32LE(12) !== MARKER_EOS) {
    fail('malformed', 'the VMDK header says the grain directory is at the end, but there is no valid footer');
  }
  const footer = parseRaw(f.subarray(512, 1024), 'in the footer');
  if (footer.gdAtEnd) fail('malformed', 'the VMDK footer does not locate the grain directory');
  if (footer.version !== header.version || footer.capacity !== header.capacity || footer.grain !== header.grain
    || footer.descOffset !== header.descOffset || footer.descSize !== header.descSize) {
    fail('malformed', 'the VMDK footer disagrees with the header');
  }
  return footer;
}

export async function parseVmdkHeader(src: ByteSource, limits: Limits): Promise<VmdkHeader> {
  const first = parseRaw(await readExact(src, 0, 512, 'VMDK header'), 'at offset 0');
  const h = first.gdAtEnd ? await readFooter(src, first) : first;
  if (!isPowerOfTwo(h.grain) || h.grain < MIN_GRAIN_SECTORS || h.grain > MAX_GRAIN_SECTORS) {
    fail('malformed', `VMDK grain size of ${h.grain} sectors (must be a power of two, ${MIN_GRAIN_SECTORS}..${MAX_GRAIN_SECTORS})`);
  }
  if (h.gtEntries < 1 || h.gtEntries > 512) fail('malformed', `VMDK grain table of ${h.gtEntries} entries`);
  if (h.compressAlgorithm > 1) fail('unsupported-feature', `VMDK compression algorithm ${h.compressAlgorithm}`);
  const virtualSize = h.capacity * 512;
  checkVirtualSize(virtualSize, limits, 'VMDK');
  const gdEntries = Math.ceil(h.capacity / (h.gtEntries * h.grain));
  checkTableBytes(gdEntries * 4, limits, 'VMDK grain directory', MAX_L1_BYTES);

  if (h.descOffset === 0 || h.descSize === 0) fail('malformed', 'the VMDK sparse extent has no embedded descriptor');
  if (h.descSize > MAX_DESCRIPTOR_SECTORS) fail('absurd-size', `VMDK descriptor of ${h.descSize} sectors`);
  const regions: Region[] = [
    { name: 'VMDK header', start: 0, length: 512 },
    { name: 'VMDK descriptor', start: h.descOffset * 512, length: h.descSize * 512 },
    { name: 'VMDK grain directory', start: h.gdOffset * 512, length: gdEntries * 4 },
  ];
  if (h.flags & FLAG_REDUNDANT_GT && h.rgdOffset !== 0) regions.push({ name: 'VMDK redundant grain directory', start: h.rgdOffset * 512, length: gdEntries * 4 });
  if (first.gdAtEnd) regions.push({ name: 'VMDK footer', start: Math.floor(src.size / 512) * 512 - 1536, length: 1536 });
  for (const r of regions) checkInFile(src.size, r);
  checkNoOverlap(regions);

  const text = await readExact(src, regions[1].start, regions[1].length, 'VMDK descriptor');
  const nul = text.indexOf(0);
  const descriptor = checkEmbeddedDescriptor(text.toString('latin1', 0, nul < 0 ? text.length : nul), h.capacity);
  return {
    virtualSize,
    grainBytes: h.grain * 512,
    gtEntries: h.gtEntries,
    gdOffset: h.gdOffset * 512,
    gdEntries,
    compressed: h.compressAlgorithm === 1,
    markers: (h.flags & FLAG_MARKERS) !== 0,
    zeroedGrains: (h.flags & FLAG_ZEROED_GRAIN) !== 0,
    createType: descriptor.createType!,
    streamLayout: first.gdAtEnd ? 'footer' : 'header',
    regions,
  };
}
