/**
 * Issue 11: a small file must not read as far more data than it holds. Readers refuse host clusters, blocks and
 * grains that several table entries map (or that lie over a table), and an import's work is bounded by the
 * file's size. Every file here is built at test time; each refused variant has an accepted control.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource, inspect, openReader } from '../../src/formats/index.ts';
import type { ImportFormat, Inspection } from '../../src/formats/types.ts';
import { rejectsWith } from './qemu-fixtures.ts';
import { vmwareStreamVmdk } from './hand-built.ts';
import { qcow2Image, sampleDisk, vhdDynamicImage, vhdxImage, vmdkSparseImage } from './small-images.ts';

const MiB = 1024 * 1024;
const TiB = 1024 * 1024 * MiB;

async function readAll(file: Buffer, format: ImportFormat, inspection?: Inspection): Promise<Buffer> {
  const src = bufferSource(file);
  const reader = await openReader(src, inspection ?? (await inspect(src, { declared: format })));
  const out = Buffer.alloc(reader.virtualSize);
  for await (const c of reader.chunks()) c.data?.copy(out, c.index * 4 * MiB);
  return out;
}

function refused(file: Buffer, format: ImportFormat, code: string): Promise<void> {
  return rejectsWith(inspect(bufferSource(file), { declared: format }), code);
}

/** The file: cluster_bits=21, 2 TiB, and every entry of its 4 L2 tables pointing at one data cluster. */
function oneClusterEverywhere(entries = Infinity, compressed = false): Buffer {
  const cs = 2 * MiB;
  const f = Buffer.alloc(18 * MiB);
  f.writeUInt32BE(0x514649fb, 0);
  f.writeUInt32BE(3, 4);
  f.writeUInt32BE(21, 20);
  f.writeBigUInt64BE(BigInt(2 * TiB), 24);
  f.writeUInt32BE(4, 36); // L1 entries: each L2 table maps 256 Ki clusters = 512 GiB
  f.writeBigUInt64BE(BigInt(cs), 40);
  f.writeBigUInt64BE(BigInt(2 * cs), 48);
  f.writeUInt32BE(1, 56);
  f.writeUInt32BE(4, 96);
  f.writeUInt32BE(104, 100);
  f.writeBigUInt64BE(BigInt(3 * cs), 2 * cs); // refcount table → refcount block
  for (let t = 0; t < 4; t++) f.writeBigUInt64BE((1n << 63n) | BigInt((4 + t) * cs), cs + t * 8);
  const data = 8 * cs;
  f.fill(0x5a, data, data + cs);
  let n = 0;
  for (let at = 4 * cs; at < 8 * cs && n < entries; at += 8, n++) {
    // Compressed entries each start one byte further (distinct starts), with one extra sector of data.
    f.writeBigUInt64BE(compressed ? (1n << 62n) | (1n << 49n) | BigInt(data + n) : (1n << 63n) | BigInt(data), at);
  }
  return f;
}

test('the 18 MiB qcow2 whose L2 entries all map one cluster is refused, not read as 2 TiB of data', async () => {
  await refused(oneClusterEverywhere(), 'qcow2', 'InvalidImage.SharedCluster');
  // Control: the same file with one mapping is a 2 TiB disk holding one cluster.
  const one = await inspect(bufferSource(oneClusterEverywhere(1)), { declared: 'qcow2' });
  assert.equal(one.virtualSize, 2 * TiB);
  assert.equal(one.allocatedBytes, 2 * MiB);
});

test('compressed clusters cannot claim more data than deflate can pack into the file', async () => {
  // Distinct starts, but a million 2 MiB clusters out of 18 MiB is beyond any compression ratio.
  await refused(oneClusterEverywhere(Infinity, true), 'qcow2', 'InvalidImage.AbsurdSize');
});

const disk = sampleDisk(256 * 1024);

/** Offset of the L2 table L1[0] points at. */
function firstL2(qcow2: Buffer): number {
  return Number(qcow2.readBigUInt64BE(Number(qcow2.readBigUInt64BE(40))) & 0xffffffffffffffn);
}

test('qcow2: two L2 entries sharing a data cluster, or a data cluster over a table, are refused', async () => {
  const good = qcow2Image(disk);
  assert.ok((await readAll(good, 'qcow2')).equals(disk));
  const l2 = firstL2(good);
  const shared = Buffer.from(good);
  shared.copy(shared, l2 + 8, l2, l2 + 8); // cluster 1 → cluster 0's host cluster
  await refused(shared, 'qcow2', 'InvalidImage.SharedCluster');
  const overTable = Buffer.from(good);
  overTable.writeBigUInt64BE((1n << 63n) | BigInt(l2), l2); // cluster 0 → its own L2 table
  await refused(overTable, 'qcow2', 'InvalidImage.TableOverlap');
});

test('qcow2 compressed and extended-L2 entries follow the same rule', async () => {
  for (const opts of [{ compressed: true }, { clusterBits: 14, extendedL2: true }]) {
    const good = qcow2Image(disk, opts);
    assert.ok((await readAll(good, 'qcow2')).equals(disk), JSON.stringify(opts));
    const l2 = firstL2(good);
    const entry = opts.compressed ? 8 : 16;
    const shared = Buffer.from(good);
    shared.copy(shared, l2 + entry, l2, l2 + entry);
    await refused(shared, 'qcow2', 'InvalidImage.SharedCluster');
  }
});

test('VHD: two BAT entries whose blocks share a byte are refused', async () => {
  const good = vhdDynamicImage(disk);
  assert.ok((await readAll(good, 'vhd')).equals(disk));
  const bat = 1536;
  const same = Buffer.from(good);
  same.copy(same, bat + 4, bat, bat + 4);
  await refused(same, 'vhd', 'InvalidImage.SharedCluster');
  const overlapping = Buffer.from(good);
  overlapping.writeUInt32BE(good.readUInt32BE(bat) + 1, bat + 4); // one sector into block 0
  await refused(overlapping, 'vhd', 'InvalidImage.SharedCluster');
});

test('VMDK: grain table entries sharing a grain, or a grain over a grain table, are refused', async () => {
  const good = vmdkSparseImage(disk);
  assert.ok((await readAll(good, 'vmdk')).equals(disk));
  const gt = good.readUInt32LE(Number(good.readBigUInt64LE(56)) * 512) * 512; // GD[0] → first grain table
  const shared = Buffer.from(good);
  shared.copy(shared, gt + 4, gt, gt + 4);
  await refused(shared, 'vmdk', 'InvalidImage.SharedCluster');
  const overTable = Buffer.from(good);
  overTable.writeUInt32LE(gt / 512, gt); // grain 0 → its own grain table
  await refused(overTable, 'vmdk', 'InvalidImage.TableOverlap');

  const stream = vmwareStreamVmdk(disk);
  assert.ok((await readAll(stream, 'vmdk')).equals(disk));
  const footer = stream.length - 1024;
  const sgt = stream.readUInt32LE(Number(stream.readBigUInt64LE(footer + 56)) * 512) * 512;
  const sharedStream = Buffer.from(stream);
  sharedStream.copy(sharedStream, sgt + 4, sgt, sgt + 4);
  await refused(sharedStream, 'vmdk', 'InvalidImage.SharedCluster');
});

test('VHDX: two BAT entries mapping one block are refused', async () => {
  const two = sampleDisk(MiB + 128 * 1024);
  const good = vhdxImage(two);
  assert.ok((await readAll(good, 'vhdx')).equals(two));
  const shared = Buffer.from(good);
  shared.copy(shared, MiB + 8, MiB, MiB + 8); // BAT at 1 MiB: block 1 → block 0's MiB
  await refused(shared, 'vhdx', 'InvalidImage.SharedCluster');
});

test('a reader maps no more data than its inspection counted', async () => {
  const good = qcow2Image(disk);
  const inspection = await inspect(bufferSource(good), { declared: 'qcow2' });
  assert.ok(inspection.allocatedBytes > 0);
  await rejectsWith(readAll(good, 'qcow2', { ...inspection, allocatedBytes: inspection.allocatedBytes - 1 }), 'InvalidImage.Malformed');
});
