/**
 * Malicious and malformed VMDK, VHD, VHDX and other containers (spec §5), plus declared ≠ detected.
 * Host paths named by descriptors are never opened: the inspector only sees the ByteSource.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '../../src/formats/crc32c.ts';
import { vhdChecksum } from '../../src/formats/vhd/footer.ts';
import { toApiError } from '../../src/services/errors.ts';
import {
  copyTo, createLuks, inspectFile, makeSparseRaw, makeTempDir, MiB, patch, qemuImg, readAt, rejectsWith, removeDir,
  u32be, u32le, u64be, u64le,
} from './qemu-fixtures.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let dir = '';
let raw = '';
let vmdk = '';
let vhd = '';
let vhdFixed = '';
let vhdx = '';

before(() => {
  dir = makeTempDir();
  raw = path.join(dir, 'base.raw');
  makeSparseRaw(raw, 12 * MiB, [{ offset: 0, length: 3 * MiB, fill: 'random' }, { offset: 8 * MiB, length: MiB, fill: 0x42 }]);
  vmdk = path.join(dir, 'good.vmdk');
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', raw, vmdk);
  vhd = path.join(dir, 'good.vhd');
  qemuImg('convert', '-f', 'raw', '-O', 'vpc', '-o', 'force_size=on', raw, vhd);
  vhdFixed = path.join(dir, 'fixed.vhd');
  qemuImg('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, vhdFixed);
  vhdx = path.join(dir, 'good.vhdx');
  qemuImg('convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx);
});
after(() => removeDir(dir));

function writeFile(name: string, data: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

test('the unpatched fixtures are accepted', async () => {
  assert.equal((await inspectFile(vmdk, 'vmdk')).virtualSize, 12 * MiB);
  assert.equal((await inspectFile(vhd, 'vhd')).virtualSize, 12 * MiB);
  assert.equal((await inspectFile(vhdFixed, 'vhd')).features.subformat, 'fixed');
  assert.equal((await inspectFile(vhdx, 'vhdx')).virtualSize, 12 * MiB);
});

// ---- VMDK ----

const FLAT_PASSWD = '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 FLAT "/etc/passwd" 0\n';

test('VMDK descriptor file with a FLAT extent on /etc/passwd', async () => {
  const file = writeFile('flat.vmdk', FLAT_PASSWD);
  const err = await inspectFile(file, 'vmdk').then(() => assert.fail('accepted'), toApiError);
  assert.equal(err.code, 'InvalidImage.UnsafeExtent');
  assert.match(err.message, /\/etc\/passwd/);
  await rejectsWith(inspectFile(file), 'InvalidImage.UnsafeExtent');
  await rejectsWith(inspectFile(file, 'raw'), 'InvalidImageFormat.Mismatch');
});

test('VMDK descriptor files are rejected whatever they point at', async () => {
  const sparse = writeFile('desc-sparse.vmdk', '# Disk DescriptorFile\nversion=1\ncreateType="monolithicSparse"\nRW 2048 SPARSE "disk-s001.vmdk"\n');
  await rejectsWith(inspectFile(sparse, 'vmdk'), 'InvalidImage.UnsafeExtent');
  const device = writeFile('desc-device.vmdk', 'version=1\ncreateType="fullDevice"\nRW 2048 FLAT "/dev/sda" 0\n');
  await rejectsWith(inspectFile(device, 'vmdk'), 'InvalidImage.UnsafeExtent');
});

/** The good VMDK with its embedded descriptor replaced (padded to its 20 sectors). */
function withDescriptor(name: string, text: string): string {
  const file = copyTo(vmdk, name);
  const desc = Buffer.alloc(20 * 512);
  desc.write(text, 'latin1');
  patch(file, 512, desc);
  return file;
}

function embedded(createType: string, extents: string, extra = ''): string {
  return `# Disk DescriptorFile\nversion=1\nCID=df72b9a0\nparentCID=ffffffff\n${extra}createType="${createType}"\n\n${extents}\n\nddb.adapterType = "ide"\n`;
}

test('VMDK sparse extent with an unsafe embedded descriptor', async () => {
  const sectors = 12 * 2048;
  await rejectsWith(inspectFile(withDescriptor('e-flat.vmdk', embedded('monolithicSparse', `RW ${sectors} FLAT "/etc/passwd" 0`)), 'vmdk'), 'InvalidImage.UnsafeExtent');
  await rejectsWith(inspectFile(withDescriptor('e-ctype.vmdk', embedded('monolithicFlat', `RW ${sectors} SPARSE "x.vmdk"`)), 'vmdk'), 'InvalidImage.UnsafeExtent');
  await rejectsWith(inspectFile(withDescriptor('e-dev.vmdk', embedded('fullDevice', `RW ${sectors} SPARSE "x.vmdk"`)), 'vmdk'), 'InvalidImage.UnsafeExtent');
  await rejectsWith(inspectFile(withDescriptor('e-two.vmdk', embedded('monolithicSparse', `RW ${sectors} SPARSE "x.vmdk"\nRW 2048 SPARSE "y.vmdk"`)), 'vmdk'), 'InvalidImage.UnsafeExtent');
  await rejectsWith(inspectFile(withDescriptor('e-path.vmdk', embedded('monolithicSparse', `RW ${sectors} SPARSE "/etc/passwd"`)), 'vmdk'), 'InvalidImage.UnsafeExtent');
  await rejectsWith(inspectFile(withDescriptor('e-junk.vmdk', embedded('monolithicSparse', `RW ${sectors} SPARSE "x.vmdk"\n!include /etc/passwd`)), 'vmdk'), 'InvalidImage.UnsafeExtent');
  await rejectsWith(inspectFile(withDescriptor('e-parent.vmdk', embedded('monolithicSparse', `RW ${sectors} SPARSE "x.vmdk"`).replace('parentCID=ffffffff', 'parentCID=1234abcd\nparentFileNameHint="/etc/base.vmdk"')), 'vmdk'), 'InvalidImage.BackingFile');
  // The same descriptor, made safe again, is accepted.
  assert.equal((await inspectFile(withDescriptor('e-ok.vmdk', embedded('monolithicSparse', `RW ${sectors} SPARSE "x.vmdk"`)), 'vmdk')).format, 'vmdk');
});

test('VMDK grain size 0, not a power of two, or huge', async () => {
  for (const g of [0, 100, 1 << 20]) {
    const file = copyTo(vmdk, `grain${g}.vmdk`);
    patch(file, 20, u64le(g));
    await rejectsWith(inspectFile(file, 'vmdk'), 'InvalidImage.Malformed');
  }
});

test('VMDK grain directory and grain tables beyond EOF, and truncation', async () => {
  const size = fs.statSync(vmdk).size;
  const gd = copyTo(vmdk, 'gd-eof.vmdk');
  patch(gd, 56, u64le(size / 512 + 10));
  await rejectsWith(inspectFile(gd, 'vmdk'), 'InvalidImage.TableOutOfBounds');
  const gdOffset = Number(readAt(vmdk, 56, 8).readBigUInt64LE(0)) * 512;
  const gt = copyTo(vmdk, 'gt-eof.vmdk');
  patch(gt, gdOffset, u32le(size / 512 + 10));
  await rejectsWith(inspectFile(gt, 'vmdk'), 'InvalidImage.TableOutOfBounds');
  const onHeader = copyTo(vmdk, 'gt-desc.vmdk');
  patch(onHeader, gdOffset, u32le(2));
  await rejectsWith(inspectFile(onHeader, 'vmdk'), 'InvalidImage.TableOverlap');
  const truncated = copyTo(vmdk, 'trunc.vmdk');
  fs.truncateSync(truncated, Math.floor(size / 2));
  await rejectsWith(inspectFile(truncated, 'vmdk'), 'InvalidImage.Truncated');
  await rejectsWith(inspectFile(copyTo(vmdk, 'capacity.vmdk'), 'vmdk', { maxVirtualSize: MiB }), 'InvalidImage.AbsurdSize');
});

// ---- VHD ----

/** Rewrites a VHD structure's checksum after a patch. */
function resign(file: string, offset: number, length: number, checksumAt: number): void {
  const b = readAt(file, offset, length);
  patch(file, offset + checksumAt, u32be(vhdChecksum(b, checksumAt)));
}

test('VHD footer with a bad checksum (dynamic copy at 0, fixed footer at EOF)', async () => {
  const dyn = copyTo(vhd, 'badsum.vhd');
  patch(dyn, 40, u64be(1)); // original size field, covered by the checksum
  await rejectsWith(inspectFile(dyn, 'vhd'), 'InvalidImage.BadChecksum');
  const fixed = copyTo(vhdFixed, 'badsum-fixed.vhd');
  patch(fixed, fs.statSync(fixed).size - 512 + 40, u64be(1));
  await rejectsWith(inspectFile(fixed, 'vhd'), 'InvalidImage.BadChecksum');
  const header = copyTo(vhd, 'badsum-dyn.vhd');
  patch(header, 512 + 28, u32be(7));
  await rejectsWith(inspectFile(header, 'vhd'), 'InvalidImage.BadChecksum');
});

test('VHD BAT beyond EOF, absurd table size, blocks beyond EOF', async () => {
  const bat = copyTo(vhd, 'bat-eof.vhd');
  patch(bat, 512 + 16, u64be(fs.statSync(vhd).size + 4096));
  resign(bat, 512, 1024, 36);
  await rejectsWith(inspectFile(bat, 'vhd'), 'InvalidImage.TableOutOfBounds');
  const absurd = copyTo(vhd, 'bat-huge.vhd');
  patch(absurd, 512 + 28, u32be(0x7fffffff));
  resign(absurd, 512, 1024, 36);
  await rejectsWith(inspectFile(absurd, 'vhd'), 'InvalidImage.AbsurdSize');
  const block = copyTo(vhd, 'block-eof.vhd');
  patch(block, 1536, u32be(0x00ffffff));
  await rejectsWith(inspectFile(block, 'vhd'), 'InvalidImage.Truncated');
  const overlap = copyTo(vhd, 'block-bat.vhd');
  patch(overlap, 1536, u32be(3)); // the block would start inside the BAT
  await rejectsWith(inspectFile(overlap, 'vhd'), 'InvalidImage.TableOverlap');
  const truncated = copyTo(vhd, 'trunc.vhd');
  fs.truncateSync(truncated, Math.floor(fs.statSync(vhd).size / 2));
  await rejectsWith(inspectFile(truncated, 'vhd'), 'InvalidImage.Truncated');
});

test('VHD differencing disks and fixed VHDs larger than their data', async () => {
  const diff = copyTo(vhd, 'diff.vhd');
  patch(diff, 60, u32be(4));
  resign(diff, 0, 512, 64);
  await rejectsWith(inspectFile(diff, 'vhd'), 'InvalidImage.BackingFile');
  const big = copyTo(vhdFixed, 'big-fixed.vhd');
  const footer = fs.statSync(big).size - 512;
  patch(big, footer + 48, u64be(64 * MiB));
  resign(big, footer, 512, 64);
  await rejectsWith(inspectFile(big, 'vhd'), 'InvalidImage.Truncated');
});

// ---- VHDX ----

const BAT_GUID = Buffer.from('6677c22d23f600429d64115e9bfd4a08', 'hex');
const FILE_PARAMS_GUID = Buffer.from('3767a1ca36fa434db3b633f0aa44e76b', 'hex');

function vhdxRegion(file: string, guid: Buffer): number {
  const rt = readAt(file, 192 * 1024, 64 * 1024);
  for (let i = 0; i < rt.readUInt32LE(8); i++) {
    if (rt.subarray(16 + i * 32, 32 + i * 32).equals(guid)) return Number(rt.readBigUInt64LE(32 + i * 32));
  }
  throw new Error('region not found');
}

/** Re-signs the CRC-32C of a VHDX header (4 KiB) or region table (64 KiB) at `offset`. */
function resignVhdx(file: string, offset: number, length: number): void {
  const b = readAt(file, offset, length);
  b.writeUInt32LE(0, 4);
  patch(file, offset + 4, u32le(crc32c(b)));
}

test('VHDX header CRC: one bad copy is survivable, two are not', async () => {
  const one = copyTo(vhdx, 'crc1.vhdx');
  patch(one, 64 * 1024 + 100, Buffer.from([0xde, 0xad]));
  assert.equal((await inspectFile(one, 'vhdx')).virtualSize, 12 * MiB);
  const both = copyTo(one, 'crc2.vhdx');
  patch(both, 128 * 1024 + 100, Buffer.from([0xde, 0xad]));
  await rejectsWith(inspectFile(both, 'vhdx'), 'InvalidImage.BadChecksum');
  const regions = copyTo(vhdx, 'crc-rt.vhdx');
  patch(regions, 192 * 1024 + 1000, Buffer.from([1]));
  patch(regions, 256 * 1024 + 1000, Buffer.from([1]));
  await rejectsWith(inspectFile(regions, 'vhdx'), 'InvalidImage.BadChecksum');
});

test('VHDX with a log to replay, a parent, or bad BAT entries', async () => {
  const log = copyTo(vhdx, 'log.vhdx');
  for (const h of [64 * 1024, 128 * 1024]) {
    patch(log, h + 48, Buffer.alloc(16, 0x11));
    resignVhdx(log, h, 4096);
  }
  await rejectsWith(inspectFile(log, 'vhdx'), 'InvalidImage.UnsupportedFeature');

  const parent = copyTo(vhdx, 'parent.vhdx');
  const meta = vhdxRegion(parent, Buffer.from('06a27c8b90479a4bb8fe575f050f886e', 'hex'));
  const table = readAt(parent, meta, 64 * 1024);
  let paramsAt = -1;
  for (let i = 0; i < table.readUInt16LE(10); i++) {
    if (table.subarray(32 + i * 32, 48 + i * 32).equals(FILE_PARAMS_GUID)) paramsAt = meta + table.readUInt32LE(48 + i * 32);
  }
  assert.ok(paramsAt > 0);
  patch(parent, paramsAt + 4, u32le(2)); // HasParent
  await rejectsWith(inspectFile(parent, 'vhdx'), 'InvalidImage.BackingFile');

  const bat = vhdxRegion(vhdx, BAT_GUID);
  const eof = copyTo(vhdx, 'bat-eof.vhdx');
  patch(eof, bat, u64le((BigInt(fs.statSync(vhdx).size / MiB + 10) << 20n) | 6n));
  await rejectsWith(inspectFile(eof, 'vhdx'), 'InvalidImage.Truncated');
  const partial = copyTo(vhdx, 'bat-partial.vhdx');
  patch(partial, bat, u64le((readAt(vhdx, bat, 8).readBigUInt64LE(0) & ~7n) | 7n));
  await rejectsWith(inspectFile(partial, 'vhdx'), 'InvalidImage.Malformed');
  const header = copyTo(vhdx, 'bat-header.vhdx');
  patch(header, bat, u64le(6n)); // block at offset 0: the header area
  await rejectsWith(inspectFile(header, 'vhdx'), 'InvalidImage.TableOverlap');
  const truncated = copyTo(vhdx, 'trunc.vhdx');
  const block0 = Number(readAt(vhdx, bat, 8).readBigUInt64LE(0) >> 20n) * MiB;
  fs.truncateSync(truncated, block0 + MiB); // inside the first data block
  await rejectsWith(inspectFile(truncated, 'vhdx'), 'InvalidImage.Truncated');
});

// ---- other formats, declared ≠ detected ----

test('QED, VDI and LUKS are detected and refused', async () => {
  const qed = path.join(dir, 'x.qed');
  qemuImg('create', '-f', 'qed', qed, '16M');
  const vdi = path.join(dir, 'x.vdi');
  qemuImg('create', '-f', 'vdi', vdi, '16M');
  const luks = path.join(dir, 'x.luks');
  createLuks(() => qemuImg('create', '--object', 'secret,id=s0,data=x', '-f', 'luks', '-o', 'key-secret=s0,iter-time=10', luks, '16M'));
  for (const f of [qed, vdi, luks]) {
    await rejectsWith(inspectFile(f), 'InvalidImage.UnsupportedFormat');
    await rejectsWith(inspectFile(f, 'raw'), 'InvalidImageFormat.Mismatch');
    await rejectsWith(inspectFile(f, 'qcow2'), 'InvalidImageFormat.Mismatch');
  }
});

test('declared format must match the detected one', async () => {
  const qcow2 = path.join(dir, 'x.qcow2');
  qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2);
  await rejectsWith(inspectFile(qcow2, 'vhd'), 'InvalidImageFormat.Mismatch');
  await rejectsWith(inspectFile(qcow2, 'raw'), 'InvalidImageFormat.Mismatch');
  await rejectsWith(inspectFile(vhd, 'vmdk'), 'InvalidImageFormat.Mismatch');
  await rejectsWith(inspectFile(vhdFixed, 'raw'), 'InvalidImageFormat.Mismatch'); // footer at EOF only
  await rejectsWith(inspectFile(vhdx, 'qcow2'), 'InvalidImageFormat.Mismatch');
  await rejectsWith(inspectFile(vmdk, 'raw'), 'InvalidImageFormat.Mismatch');
  await rejectsWith(inspectFile(raw, 'qcow2'), 'InvalidImageFormat.Mismatch');
  await rejectsWith(inspectFile(raw, 'iso'), 'InvalidImageFormat.Mismatch');
  assert.equal((await inspectFile(qcow2)).format, 'qcow2');
  assert.equal((await inspectFile(vhdFixed)).format, 'vhd');
});

test('raw files must be whole sectors and not empty', async () => {
  await rejectsWith(inspectFile(writeFile('odd.raw', Buffer.alloc(1000, 1)), 'raw'), 'InvalidImage.Malformed');
  await rejectsWith(inspectFile(writeFile('empty.raw', Buffer.alloc(0)), 'raw'), 'InvalidImage.Malformed');
});
