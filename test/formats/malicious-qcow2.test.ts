/**
 * Malicious and malformed qcow2 files (spec §5), built with qemu-img and byte patches. Each must be rejected with
 * its specific code. Cases that name host files only prove the rejection: the inspector never opens anything but
 * the ByteSource it is given.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openFileSource, openReader, inspect } from '../../src/formats/index.ts';
import { toApiError } from '../../src/services/errors.ts';
import {
  copyTo, createLuks, inspectFile, makeSparseRaw, makeTempDir, MiB, patch, qemuImg, readAt, rejectsWith, removeDir, u32be, u64be,
} from './qemu-fixtures.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let dir = '';
/** A 64 KiB-cluster v3 qcow2 with data in the first 8 MiB, and a compressed one. */
let good = '';
let compressed = '';

interface Layout {
  l1Offset: number;
  refcountTableOffset: number;
  l2Offset: number;
  size: number;
}

function layoutOf(file: string): Layout {
  const h = readAt(file, 0, 112);
  const l1Offset = Number(h.readBigUInt64BE(40));
  return {
    l1Offset,
    refcountTableOffset: Number(h.readBigUInt64BE(48)),
    l2Offset: Number(readAt(file, l1Offset, 8).readBigUInt64BE(0) & 0x00fffffffffffe00n),
    size: fs.statSync(file).size,
  };
}

before(() => {
  dir = makeTempDir();
  const raw = path.join(dir, 'base.raw');
  makeSparseRaw(raw, 16 * MiB, [{ offset: 0, length: 8 * MiB, fill: 'random' }, { offset: 12 * MiB, length: MiB, fill: 0x41 }]);
  good = path.join(dir, 'good.qcow2');
  qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, good);
  compressed = path.join(dir, 'compressed.qcow2');
  qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', raw, compressed);
});
after(() => removeDir(dir));

function variant(name: string, edit: (file: string, l: Layout) => void, from = good): string {
  const file = copyTo(from, name);
  edit(file, layoutOf(file));
  return file;
}

test('the unpatched fixture is accepted', async () => {
  const i = await inspectFile(good, 'qcow2');
  assert.equal(i.virtualSize, 16 * MiB);
  assert.equal(i.allocatedBytes, 9 * MiB);
});

test('backing file, plain path', async () => {
  const file = path.join(dir, 'backing.qcow2');
  qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/passwd', '-u', file, '1G');
  await rejectsWith(inspectFile(file, 'qcow2'), 'InvalidImage.BackingFile');
  await rejectsWith(inspectFile(file), 'InvalidImage.BackingFile');
  await rejectsWith(inspectFile(file, 'raw'), 'InvalidImageFormat.Mismatch');
});

test('backing file, json: pseudo-protocol', async () => {
  const file = path.join(dir, 'backing-json.qcow2');
  qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', 'json:{"driver":"file","filename":"/etc/shadow"}', '-u', file, '1G');
  const err = await inspectFile(file, 'qcow2').then(() => assert.fail('accepted'), toApiError);
  assert.equal(err.code, 'InvalidImage.BackingFile');
  assert.match(err.message, /json:/);
});

test('backing file header padded to 64 MiB and declared raw', async () => {
  const file = path.join(dir, 'padded.qcow2');
  qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/passwd', '-u', file, '1G');
  fs.truncateSync(file, 64 * MiB);
  await rejectsWith(inspectFile(file, 'raw'), 'InvalidImageFormat.Mismatch');
});

test('external data file', async () => {
  const file = path.join(dir, 'datafile.qcow2');
  qemuImg('create', '-f', 'qcow2', '-o', `data_file=${path.join(dir, 'data.raw')}`, file, '16M');
  await rejectsWith(inspectFile(file, 'qcow2'), 'InvalidImage.ExternalDataFile');
  // Incompatible bit 2 alone, and the data-file name extension alone.
  await rejectsWith(inspectFile(variant('bit2.qcow2', (f) => patch(f, 72, u64be(4n))), 'qcow2'), 'InvalidImage.ExternalDataFile');
  const extOnly = copyTo(file, 'ext-only.qcow2');
  patch(extOnly, 72, u64be(0n));
  await rejectsWith(inspectFile(extOnly, 'qcow2'), 'InvalidImage.ExternalDataFile');
});

test('unknown incompatible feature bits', async () => {
  await rejectsWith(inspectFile(variant('bit5.qcow2', (f) => patch(f, 72, u64be(1n << 5n))), 'qcow2'), 'InvalidImage.UnknownFeature');
  await rejectsWith(inspectFile(variant('bit40.qcow2', (f) => patch(f, 72, u64be(1n << 40n))), 'qcow2'), 'InvalidImage.UnknownFeature');
});

test('corrupt bit', async () => {
  await rejectsWith(inspectFile(variant('corrupt.qcow2', (f) => patch(f, 72, u64be(2n))), 'qcow2'), 'InvalidImage.Malformed');
});

test('versions other than 2 and 3', async () => {
  for (const v of [1, 4, 0xffffffff]) {
    await rejectsWith(inspectFile(variant(`v${v}.qcow2`, (f) => patch(f, 4, u32be(v))), 'qcow2'), 'InvalidImage.UnsupportedFormat');
  }
});

test('bad cluster_bits', async () => {
  for (const bits of [0, 8, 22, 63]) {
    await rejectsWith(inspectFile(variant(`cb${bits}.qcow2`, (f) => patch(f, 20, u32be(bits))), 'qcow2'), 'InvalidImage.Malformed');
  }
});

test('refcount_order out of range', async () => {
  await rejectsWith(inspectFile(variant('ro7.qcow2', (f) => patch(f, 96, u32be(7))), 'qcow2'), 'InvalidImage.Malformed');
});

test('header_length beyond the cluster', async () => {
  await rejectsWith(inspectFile(variant('hl.qcow2', (f) => patch(f, 100, u32be(70000))), 'qcow2'), 'InvalidImage.Malformed');
});

test('L1 table beyond EOF or overlapping the header', async () => {
  await rejectsWith(inspectFile(variant('l1eof.qcow2', (f, l) => patch(f, 40, u64be(l.size + 65536))), 'qcow2'), 'InvalidImage.TableOutOfBounds');
  await rejectsWith(inspectFile(variant('l1zero.qcow2', (f) => patch(f, 40, u64be(0))), 'qcow2'), 'InvalidImage.TableOverlap');
  await rejectsWith(inspectFile(variant('l1rt.qcow2', (f, l) => patch(f, 40, u64be(l.refcountTableOffset))), 'qcow2'), 'InvalidImage.TableOverlap');
});

test('L2 table beyond EOF or overlapping other tables', async () => {
  await rejectsWith(inspectFile(variant('l2eof.qcow2', (f, l) => patch(f, l.l1Offset, u64be(BigInt(l.size + 65536) | (1n << 63n)))), 'qcow2'), 'InvalidImage.TableOutOfBounds');
  await rejectsWith(inspectFile(variant('l2l1.qcow2', (f, l) => patch(f, l.l1Offset, u64be(l.l1Offset))), 'qcow2'), 'InvalidImage.TableOverlap');
  await rejectsWith(inspectFile(variant('l2rt.qcow2', (f, l) => patch(f, l.l1Offset, u64be(l.refcountTableOffset))), 'qcow2'), 'InvalidImage.TableOverlap');
  // An L2 table that is also a refcount block.
  const rb = Number(readAt(good, layoutOf(good).refcountTableOffset, 8).readBigUInt64BE(0));
  await rejectsWith(inspectFile(variant('l2rb.qcow2', (f, l) => patch(f, l.l1Offset, u64be(rb))), 'qcow2'), 'InvalidImage.TableOverlap');
});

test('refcount table beyond EOF or overlapping the header', async () => {
  await rejectsWith(inspectFile(variant('rteof.qcow2', (f, l) => patch(f, 48, u64be(l.size * 4))), 'qcow2'), 'InvalidImage.TableOutOfBounds');
  await rejectsWith(inspectFile(variant('rt0.qcow2', (f) => patch(f, 48, u64be(0))), 'qcow2'), 'InvalidImage.TableOverlap');
  await rejectsWith(inspectFile(variant('rbeof.qcow2', (f, l) => patch(f, l.refcountTableOffset, u64be(l.size * 2))), 'qcow2'), 'InvalidImage.TableOutOfBounds');
});

test('absurd sizes: L1 entries, virtual size 2^63, virtual size over the policy, snapshot count', async () => {
  await rejectsWith(inspectFile(variant('l1huge.qcow2', (f) => patch(f, 36, u32be(0x10000000))), 'qcow2'), 'InvalidImage.AbsurdSize');
  await rejectsWith(inspectFile(variant('size63.qcow2', (f) => patch(f, 24, u64be(1n << 63n))), 'qcow2'), 'InvalidImage.AbsurdSize');
  await rejectsWith(inspectFile(variant('size3t.qcow2', (f) => patch(f, 24, u64be(3n << 40n))), 'qcow2'), 'InvalidImage.AbsurdSize');
  await rejectsWith(inspectFile(good, 'qcow2', { maxVirtualSize: 8 * MiB }), 'InvalidImage.AbsurdSize');
  await rejectsWith(inspectFile(good, 'qcow2', { maxMetadataBytes: 4096 }), 'InvalidImage.AbsurdSize'); // 64 KiB refcount table
  await rejectsWith(inspectFile(variant('snaps.qcow2', (f) => patch(f, 60, u32be(1_000_000))), 'qcow2'), 'InvalidImage.AbsurdSize');
  // An L1 table too small to map the virtual size.
  await rejectsWith(inspectFile(variant('l1small.qcow2', (f) => patch(f, 24, u64be(1n << 40n))), 'qcow2'), 'InvalidImage.Malformed');
});

test('encryption: legacy AES flag and LUKS', async () => {
  await rejectsWith(inspectFile(variant('aes.qcow2', (f) => patch(f, 32, u32be(1))), 'qcow2'), 'InvalidImage.Encrypted');
  const luks = path.join(dir, 'luks.qcow2');
  createLuks(() => qemuImg('create', '--object', 'secret,id=s0,data=x', '-f', 'qcow2', '-o', 'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10', luks, '16M'));
  await rejectsWith(inspectFile(luks, 'qcow2'), 'InvalidImage.Encrypted');
  // The LUKS header extension alone, with crypt_method cleared.
  const extOnly = copyTo(luks, 'luks-ext.qcow2');
  patch(extOnly, 32, u32be(0));
  await rejectsWith(inspectFile(extOnly, 'qcow2'), 'InvalidImage.Encrypted');
});

test('zstd compression type is unsupported', async () => {
  const file = path.join(dir, 'zstd.qcow2');
  qemuImg('create', '-f', 'qcow2', '-o', 'compression_type=zstd', file, '16M');
  await rejectsWith(inspectFile(file, 'qcow2'), 'InvalidImage.UnsupportedFeature');
});

test('truncated files', async () => {
  const half = variant('half.qcow2', (f, l) => fs.truncateSync(f, Math.floor(l.size / 2)));
  await rejectsWith(inspectFile(half, 'qcow2'), 'InvalidImage.Truncated');
  const tiny = variant('tiny.qcow2', (f) => fs.truncateSync(f, 50));
  await rejectsWith(inspectFile(tiny, 'qcow2'), 'InvalidImage.Truncated');
  const halfCompressed = variant('half-c.qcow2', (f, l) => fs.truncateSync(f, Math.floor(l.size / 2)), compressed);
  await rejectsWith(inspectFile(halfCompressed, 'qcow2'), 'InvalidImage.Truncated');
});

test('a raw file that starts with the qcow2 magic is not raw', async () => {
  const file = path.join(dir, 'magic.raw');
  const data = Buffer.alloc(MiB);
  data.write('QFI\xfb', 0, 'latin1');
  fs.writeFileSync(file, data);
  await rejectsWith(inspectFile(file, 'raw'), 'InvalidImageFormat.Mismatch');
  await rejectsWith(inspectFile(file), 'InvalidImage.UnsupportedFormat'); // version 0
});

test('corrupt compressed data fails the read, not silently', async () => {
  const file = variant('badz.qcow2', (f, l) => {
    // Cluster 192 (12 MiB) holds compressible bytes; the random ones were stored uncompressed.
    const e = readAt(f, l.l2Offset + 192 * 8, 8).readBigUInt64BE(0);
    assert.equal(e >> 62n, 1n, 'cluster 192 is compressed');
    const host = Number(e & ((1n << 54n) - 1n));
    patch(f, host, Buffer.alloc(64, 0xff));
  }, compressed);
  const src = await openFileSource(file);
  try {
    const inspection = await inspect(src, { declared: 'qcow2' });
    assert.equal(inspection.features.compressed, true);
    const reader = await openReader(src, inspection);
    await rejectsWith((async () => {
      for await (const c of reader.chunks()) void c;
    })(), 'InvalidImage.Malformed');
  } finally {
    await src.close();
  }
});
