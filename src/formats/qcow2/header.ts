/**
 * qcow2 header parsing and validation (QEMU docs/interop/qcow2.txt). Every field that could make a reader
 * touch anything but this file, or hold unbounded memory, is rejected here before any table is read.
 */
import type { ByteSource } from '../types.ts';
import { checkInFile, checkNoOverlap, printable, u64be, type Region } from '../bytes.ts';
import { fail } from '../errors.ts';
import { checkTableBytes, checkVirtualSize, MAX_L1_BYTES, type Limits } from '../limits.ts';
import { readClipped, readExact } from '../source.ts';

const MAGIC = 0x514649fb;
const EXT_END = 0;
const EXT_FDE = 0x0537be77;
const EXT_DATA_FILE = 0x44415441;

const INCOMPAT_DIRTY = 1;
const INCOMPAT_CORRUPT = 2;
const INCOMPAT_DATA_FILE = 4;
const INCOMPAT_COMPRESSION_TYPE = 8;
const INCOMPAT_EXTENDED_L2 = 16;
const INCOMPAT_KNOWN = 31;

/** QEMU limits: QCOW_MAX_REFTABLE_SIZE, QCOW_MAX_SNAPSHOTS. */
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
const MAX_SNAPSHOTS = 65536;

export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  clusterSize: number;
  virtualSize: number;
  extendedL2: boolean;
  /** Entries per L2 table. */
  l2Entries: number;
  l1Size: number;
  l1Offset: number;
  refcountTableOffset: number;
  refcountTableBytes: number;
  snapshotCount: number;
  snapshotsOffset: number;
  dirty: boolean;
  /** The fixed tables: header cluster, L1, refcount table (the snapshot table is walked separately). */
  regions: Region[];
}

export async function parseQcow2Header(src: ByteSource, limits: Limits): Promise<Qcow2Header> {
  const h = await readExact(src, 0, 72, 'qcow2 header');
  if (h.readUInt32BE(0) !== MAGIC) fail('malformed', 'no qcow2 magic');
  const version = h.readUInt32BE(4);
  if (version !== 2 && version !== 3) fail('unsupported-format', `qcow2 version ${version}`);
  const v3 = version === 3 ? await readExact(src, 72, 32, 'qcow2 v3 header') : null;

  // Anything pointing outside the file, first.
  const backingOffset = u64be(h, 8);
  if (backingOffset !== 0) fail('backing-file', await backingName(src, backingOffset, h.readUInt32BE(16)));
  const cryptMethod = h.readUInt32BE(32);
  if (cryptMethod !== 0) fail('encrypted', cryptMethod === 1 ? 'qcow2 AES' : cryptMethod === 2 ? 'qcow2 LUKS' : `qcow2 crypt method ${cryptMethod}`);
  let incompat = 0;
  if (v3) {
    if (v3.readUInt32BE(0) !== 0) fail('unknown-feature', `qcow2 incompatible feature bits 0x${v3.readUInt32BE(0).toString(16)}${v3.readUInt32BE(4).toString(16).padStart(8, '0')}`);
    incompat = v3.readUInt32BE(4);
    if (incompat & INCOMPAT_DATA_FILE) fail('external-data-file', 'qcow2 incompatible feature "external data file"');
    if (incompat & ~INCOMPAT_KNOWN) fail('unknown-feature', `qcow2 incompatible feature bits 0x${(incompat & ~INCOMPAT_KNOWN).toString(16)}`);
  }

  const clusterBits = h.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) fail('malformed', `qcow2 cluster_bits ${clusterBits} (must be 9..21)`);
  const clusterSize = 2 ** clusterBits;
  const extendedL2 = (incompat & INCOMPAT_EXTENDED_L2) !== 0;
  if (extendedL2 && clusterBits < 14) fail('malformed', `qcow2 extended L2 entries need clusters of at least 16 KiB, got ${clusterSize}`);
  const headerLength = v3 ? v3.readUInt32BE(28) : 72;
  if (headerLength < (v3 ? 104 : 72) || headerLength > clusterSize) fail('malformed', `qcow2 header_length ${headerLength}`);
  const refcountOrder = v3 ? v3.readUInt32BE(24) : 4;
  if (refcountOrder > 6) fail('malformed', `qcow2 refcount_order ${refcountOrder} (must be 0..6)`);

  const cluster0 = await readClipped(src, 0, clusterSize, 'qcow2 header cluster');
  if (cluster0.length < headerLength) fail('truncated', 'the qcow2 header is cut off');
  checkCompressionType(incompat, headerLength, cluster0);
  walkExtensions(cluster0, headerLength);
  if (incompat & INCOMPAT_CORRUPT) fail('malformed', 'the qcow2 image is marked corrupt');

  const virtualSize = u64be(h, 24);
  checkVirtualSize(virtualSize, limits, 'qcow2');
  const l2Entries = clusterSize / (extendedL2 ? 16 : 8);
  const l1Size = h.readUInt32BE(36);
  const l1Needed = Math.ceil(virtualSize / clusterSize / l2Entries);
  checkTableBytes(l1Size * 8, limits, 'qcow2 L1 table', MAX_L1_BYTES);
  if (l1Size < l1Needed) fail('malformed', `qcow2 L1 table has ${l1Size} entries, the disk needs ${l1Needed}`);
  const l1Offset = u64be(h, 40);
  const refcountTableOffset = u64be(h, 48);
  const refcountTableBytes = h.readUInt32BE(56) * clusterSize;
  checkTableBytes(refcountTableBytes, limits, 'qcow2 refcount table', MAX_REFTABLE_BYTES);
  const snapshotCount = h.readUInt32BE(60);
  if (snapshotCount > MAX_SNAPSHOTS) fail('absurd-size', `${snapshotCount} qcow2 snapshots`);
  const snapshotsOffset = u64be(h, 64);

  const regions: Region[] = [
    { name: 'qcow2 header', start: 0, length: clusterSize },
    { name: 'qcow2 L1 table', start: l1Offset, length: l1Size * 8 },
    { name: 'qcow2 refcount table', start: refcountTableOffset, length: refcountTableBytes },
  ];
  for (const r of regions.slice(1)) {
    checkInFile(src.size, r);
    if (r.start % clusterSize !== 0) fail('malformed', `${r.name} offset ${r.start} is not cluster aligned`);
  }
  if (snapshotCount > 0) {
    checkInFile(src.size, { name: 'qcow2 snapshot table', start: snapshotsOffset, length: 40 });
    if (snapshotsOffset % clusterSize !== 0) fail('malformed', `qcow2 snapshot table offset ${snapshotsOffset} is not cluster aligned`);
  }
  checkNoOverlap(regions);

  return {
    version, clusterBits, clusterSize, virtualSize, extendedL2, l2Entries, l1Size, l1Offset,
    refcountTableOffset, refcountTableBytes, snapshotCount, snapshotsOffset,
    dirty: (incompat & INCOMPAT_DIRTY) !== 0, regions,
  };
}

async function backingName(src: ByteSource, offset: number, size: number): Promise<string> {
  if (size === 0 || size > 1023 || offset + size > src.size) return `a name of ${size} bytes at offset ${offset}`;
  return printable(await readExact(src, offset, size, 'qcow2 backing file name'));
}

function checkCompressionType(incompat: number, headerLength: number, cluster0: Buffer): void {
  const type = headerLength > 104 ? cluster0[104] : 0;
  if (!(incompat & INCOMPAT_COMPRESSION_TYPE)) {
    if (type !== 0) fail('malformed', `qcow2 compression_type ${type} without the compression-type feature bit`);
    return;
  }
  if (headerLength <= 104) fail('malformed', 'qcow2 compression-type feature bit set but the header has no compression_type field');
  if (type === 1) fail('unsupported-feature', 'qcow2 zstd compression');
  if (type !== 0) fail('unsupported-feature', `qcow2 compression type ${type}`);
}

/**
 * Header extensions live in the rest of cluster 0. Backing-format, feature-name and bitmap extensions are
 * harmless once there is no backing file; unknown types are ignored as the spec says.
 */
function walkExtensions(cluster0: Buffer, headerLength: number): void {
  let off = headerLength;
  while (off + 8 <= cluster0.length) {
    const type = cluster0.readUInt32BE(off);
    const len = cluster0.readUInt32BE(off + 4);
    if (type === EXT_END) return;
    const data = off + 8;
    if (data + len > cluster0.length) fail('malformed', `qcow2 header extension 0x${type.toString(16)} runs past the header cluster`);
    if (type === EXT_DATA_FILE) fail('external-data-file', printable(cluster0.subarray(data, data + len)));
    if (type === EXT_FDE) fail('encrypted', 'qcow2 full-disk-encryption header');
    off = data + Math.ceil(len / 8) * 8;
  }
}
