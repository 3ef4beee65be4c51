/**
 * Every reader against qemu-img as the oracle: for each input format, the reader's chunks (zeros where null)
 * must hash the same as `qemu-img convert -O raw` of the same fixture.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chunkCount } from '../../src/domain/disk.ts';
import type { ImportFormat } from '../../src/formats/types.ts';
import {
  makeSparseRaw, makeTempDir, MiB, ODD_EXTENTS, ODD_SIZE, qemuImg, qemuIo, qemuRawSha256, removeDir, sha256File, streamFile,
} from './qemu-fixtures.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let dir = '';
let base = '';

before(() => {
  dir = makeTempDir();
  base = path.join(dir, 'base.raw');
  makeSparseRaw(base, ODD_SIZE, ODD_EXTENTS);
});
after(() => removeDir(dir));

interface Case {
  name: string;
  qemuFormat: string;
  format: ImportFormat;
  args?: string[];
  /** Extra steps on the converted fixture. */
  post?: (file: string) => void;
  features?: Record<string, string | number | boolean>;
}

const cases: Case[] = [
  { name: 'qcow2 v2, 64 KiB clusters', qemuFormat: 'qcow2', format: 'qcow2', args: ['-o', 'compat=0.10'], features: { version: 2, clusterSize: 65536 } },
  { name: 'qcow2 v3, 512 B clusters', qemuFormat: 'qcow2', format: 'qcow2', args: ['-o', 'cluster_size=512'], features: { version: 3, clusterSize: 512 } },
  { name: 'qcow2 v3, 64 KiB clusters', qemuFormat: 'qcow2', format: 'qcow2', features: { version: 3, clusterSize: 65536, compressed: false } },
  { name: 'qcow2 v3, 2 MiB clusters', qemuFormat: 'qcow2', format: 'qcow2', args: ['-o', 'cluster_size=2M'], features: { clusterSize: 2 * MiB } },
  { name: 'qcow2 v3, allocated zeros (-S 0)', qemuFormat: 'qcow2', format: 'qcow2', args: ['-S', '0'] },
  { name: 'qcow2 compressed (-c)', qemuFormat: 'qcow2', format: 'qcow2', args: ['-c'], features: { compressed: true } },
  { name: 'qcow2 compressed, 4 KiB clusters', qemuFormat: 'qcow2', format: 'qcow2', args: ['-c', '-o', 'cluster_size=4096'], features: { compressed: true } },
  { name: 'qcow2 compressed, 2 MiB clusters', qemuFormat: 'qcow2', format: 'qcow2', args: ['-c', '-o', 'cluster_size=2M'], features: { compressed: true } },
  { name: 'qcow2 v2 compressed, 512 B clusters', qemuFormat: 'qcow2', format: 'qcow2', args: ['-c', '-o', 'compat=0.10,cluster_size=512'] },
  {
    name: 'qcow2 v3 with zero-flag clusters and discards', qemuFormat: 'qcow2', format: 'qcow2', args: ['-S', '0'],
    post: (f) => qemuIo(f, 'qcow2', 'write -z 0 128k', 'write -z -u 4M 1M', 'discard 8M 64k', 'write -P 0x11 36M 64k'),
  },
  {
    name: 'qcow2 extended L2 with partial subclusters', qemuFormat: 'qcow2', format: 'qcow2', args: ['-o', 'extended_l2=on,cluster_size=128k'],
    post: (f) => qemuIo(f, 'qcow2', 'write -P 0x22 24M 4k', `write -P 0x23 ${25 * MiB + 12288} 8k`, 'write -z 0 4k'),
    features: { extendedL2: true },
  },
  {
    name: 'qcow2 with an internal snapshot', qemuFormat: 'qcow2', format: 'qcow2',
    post: (f) => {
      qemuImg('snapshot', '-c', 'snap1', f);
      qemuIo(f, 'qcow2', 'write -P 0x33 0 1M', 'discard 3M 1M');
    },
    features: { snapshots: 1 },
  },
  { name: 'VHD dynamic (CHS size)', qemuFormat: 'vpc', format: 'vhd', features: { subformat: 'dynamic', creator: 'qemu' } },
  { name: 'VHD dynamic, force_size', qemuFormat: 'vpc', format: 'vhd', args: ['-o', 'force_size=on'], features: { subformat: 'dynamic', creator: 'qem2' } },
  { name: 'VHD fixed', qemuFormat: 'vpc', format: 'vhd', args: ['-o', 'subformat=fixed'], features: { subformat: 'fixed' } },
  { name: 'VHD fixed, force_size', qemuFormat: 'vpc', format: 'vhd', args: ['-o', 'subformat=fixed,force_size=on'], features: { subformat: 'fixed' } },
  { name: 'VMDK monolithicSparse', qemuFormat: 'vmdk', format: 'vmdk', features: { subformat: 'monolithicSparse', compressed: false } },
  { name: 'VMDK streamOptimized', qemuFormat: 'vmdk', format: 'vmdk', args: ['-o', 'subformat=streamOptimized'], features: { subformat: 'streamOptimized', compressed: true } },
  { name: 'VHDX dynamic', qemuFormat: 'vhdx', format: 'vhdx' },
  { name: 'VHDX 1 MiB blocks, 4 KiB sectors', qemuFormat: 'vhdx', format: 'vhdx', args: ['-o', 'block_size=1M,log_size=1M'], features: { blockSize: MiB } },
  { name: 'VHDX fixed', qemuFormat: 'vhdx', format: 'vhdx', args: ['-o', 'subformat=fixed'] },
];

test('raw: chunks equal the file', async () => {
  const r = await streamFile(base, { declared: 'raw' });
  assert.equal(r.inspection.format, 'raw');
  assert.equal(r.inspection.virtualSize, ODD_SIZE);
  assert.equal(r.sha256, sha256File(base));
  assert.equal(r.sha256, qemuRawSha256(base, 'raw', dir).sha256);
  assert.equal(r.chunks, chunkCount(ODD_SIZE));
});

for (const c of cases) {
  test(`${c.name}: chunks equal qemu-img convert -O raw`, async () => {
    const file = path.join(dir, `${c.name.replace(/[^a-z0-9]+/gi, '-')}.${c.qemuFormat}`);
    qemuImg('convert', '-f', 'raw', '-O', c.qemuFormat, ...(c.args ?? []), base, file);
    c.post?.(file);
    const oracle = qemuRawSha256(file, c.qemuFormat, dir);
    const r = await streamFile(file, { declared: c.format });
    assert.equal(r.inspection.format, c.format);
    assert.equal(r.inspection.virtualSize, oracle.size);
    assert.equal(r.sha256, oracle.sha256);
    assert.equal(r.chunks, chunkCount(oracle.size));
    assert.ok(r.inspection.allocatedBytes > 0 && r.inspection.allocatedBytes <= oracle.size);
    for (const [k, v] of Object.entries(c.features ?? {})) assert.equal(r.inspection.features[k], v, `feature ${k}`);
    fs.rmSync(file);
  });
}

/** Sectors of each 2 MiB block whose bitmap bits `clearBitmapBits` clears. */
const CLEARED_SECTORS = [0, 1, 2, ...Array.from({ length: 12 }, (_, i) => 4 + i), 4089, 4091, 4093, 4095];

/** Clears bitmap bits of CLEARED_SECTORS in every allocated block; returns the allocated block numbers. */
function clearBitmapBits(file: string): number[] {
  const fd = fs.openSync(file, 'r+');
  try {
    const head = Buffer.alloc(1536);
    fs.readSync(fd, head, 0, 1536, 0);
    const batOffset = Number(head.readBigUInt64BE(512 + 16));
    const entries = head.readUInt32BE(512 + 28);
    const bat = Buffer.alloc(entries * 4);
    fs.readSync(fd, bat, 0, bat.length, batOffset);
    const blocks: number[] = [];
    for (let b = 0; b < entries; b++) {
      const sector = bat.readUInt32BE(b * 4);
      if (sector === 0xffffffff) continue;
      blocks.push(b);
      // MSB first: 0x10 keeps only sector 3 of 0-7; 0x00 clears 8-15; 0xaa keeps 4088, 4090, 4092, 4094.
      fs.writeSync(fd, Buffer.from([0x10, 0x00]), 0, 2, sector * 512);
      fs.writeSync(fd, Buffer.from([0xaa]), 0, 1, sector * 512 + 511);
    }
    return blocks;
  } finally {
    fs.closeSync(fd);
  }
}

// QEMU ignores sector bitmaps when reading a dynamic VHD, so the oracle is its output with those sectors zeroed.
test('VHD dynamic: sectors whose bitmap bit is clear read as zeros', async () => {
  const file = path.join(dir, 'bitmaps.vhd');
  qemuImg('convert', '-f', 'raw', '-O', 'vpc', '-o', 'force_size=on', base, file);
  const blocks = clearBitmapBits(file);
  assert.ok(blocks.length > 3);
  const expected = path.join(dir, 'bitmaps-expected.raw');
  qemuImg('convert', '-f', 'vpc', '-O', 'raw', file, expected);
  const fd = fs.openSync(expected, 'r+');
  for (const b of blocks) {
    for (const s of CLEARED_SECTORS) {
      const at = b * 2 * MiB + s * 512;
      if (at < ODD_SIZE) fs.writeSync(fd, Buffer.alloc(512), 0, 512, at);
    }
  }
  fs.closeSync(fd);
  const r = await streamFile(file, { declared: 'vhd' });
  assert.equal(r.sha256, sha256File(expected));
  assert.notEqual(r.sha256, qemuRawSha256(file, 'vpc', dir).sha256);
  fs.rmSync(file);
  fs.rmSync(expected);
});
