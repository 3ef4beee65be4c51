/** Readers on images qemu-img does not write: VMware-style stream VMDKs, ISO images, partitioned raw disks. */
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isoImage, vmwareStreamVmdk, writeGpt } from './hand-built.ts';
import { inspectFile, makeTempDir, MiB, patch, qemuRawSha256, rejectsWith, removeDir, streamFile } from './qemu-fixtures.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let dir = '';
before(() => {
  dir = makeTempDir();
});
after(() => removeDir(dir));

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** 9 MiB + 1536 bytes with data at the start, mid-grain, and in the last partial grain. */
function sampleDisk(): Buffer {
  const disk = Buffer.alloc(9 * MiB + 1536);
  randomFillSync(disk, 0, 300 * 1024);
  disk.fill(0x61, 5 * MiB + 700, 5 * MiB + 900);
  randomFillSync(disk, disk.length - 1000, 1000);
  return disk;
}

test('VMware streamOptimized (GD at end, footer, EOS) reads back the disk, like qemu', async () => {
  const disk = sampleDisk();
  const file = path.join(dir, 'vmware.vmdk');
  fs.writeFileSync(file, vmwareStreamVmdk(disk));
  const oracle = qemuRawSha256(file, 'vmdk', dir);
  assert.equal(oracle.sha256, sha256(disk));
  const r = await streamFile(file, { declared: 'vmdk' });
  assert.equal(r.sha256, sha256(disk));
  assert.equal(r.inspection.virtualSize, disk.length);
  assert.equal(r.inspection.features.streamLayout, 'footer');
  assert.equal(r.inspection.features.subformat, 'streamOptimized');
  assert.equal(r.nullChunks, 0);
});

test('VMware stream without a valid footer is rejected', async () => {
  const file = path.join(dir, 'nofooter.vmdk');
  const bytes = vmwareStreamVmdk(sampleDisk());
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 512)); // EOS marker cut off
  await rejectsWith(inspectFile(file, 'vmdk'), 'InvalidImage.Malformed');
});

test('VMware stream whose footer points its grain directory past EOF', async () => {
  const file = path.join(dir, 'gdeof.vmdk');
  const bytes = vmwareStreamVmdk(sampleDisk());
  bytes.writeBigUInt64LE(BigInt(bytes.length), bytes.length - 1024 + 56);
  fs.writeFileSync(file, bytes);
  await rejectsWith(inspectFile(file, 'vmdk'), 'InvalidImage.TableOutOfBounds');
});

test('ISO image: detected, size checked, read as raw', async () => {
  const iso = isoImage(512);
  const file = path.join(dir, 'plain.iso');
  fs.writeFileSync(file, iso);
  const r = await streamFile(file, { declared: 'iso' });
  assert.equal(r.inspection.format, 'iso');
  assert.equal(r.inspection.virtualSize, iso.length);
  assert.equal(r.inspection.features.volumeBytes, iso.length);
  assert.equal(r.sha256, sha256(iso));
  assert.equal((await inspectFile(file)).format, 'iso');
});

test('ISO + GPT polyglot is an ISO when declared iso, and rejected when declared raw', async () => {
  const file = path.join(dir, 'hybrid.iso');
  fs.writeFileSync(file, isoImage(512, { gpt: true }));
  const i = await inspectFile(file, 'iso');
  assert.equal(i.format, 'iso');
  assert.equal(i.features.partitionTable, 'gpt');
  await rejectsWith(inspectFile(file, 'raw'), 'InvalidImageFormat.Mismatch');
});

test('ISO whose volume is larger than the file is truncated', async () => {
  const file = path.join(dir, 'short.iso');
  fs.writeFileSync(file, isoImage(64, { declaredBlocks: 4096 }));
  await rejectsWith(inspectFile(file, 'iso'), 'InvalidImage.Truncated');
});

test('ISO that also carries the qcow2 magic matches two formats', async () => {
  const file = path.join(dir, 'qiso.iso');
  fs.writeFileSync(file, isoImage(64));
  patch(file, 0, Buffer.from([0x51, 0x46, 0x49, 0xfb]));
  await rejectsWith(inspectFile(file, 'iso'), 'InvalidImageFormat.Mismatch');
  await rejectsWith(inspectFile(file), 'InvalidImageFormat.Mismatch');
});

test('raw disks report their partition table', async () => {
  const gpt = Buffer.alloc(4 * MiB);
  writeGpt(gpt);
  const gptFile = path.join(dir, 'gpt.raw');
  fs.writeFileSync(gptFile, gpt);
  assert.equal((await inspectFile(gptFile, 'raw')).features.partitionTable, 'gpt');

  const mbr = Buffer.alloc(MiB);
  mbr[446] = 0x80;
  mbr[446 + 4] = 0x83;
  mbr.writeUInt32LE(2048, 446 + 8);
  mbr.writeUInt32LE(1024, 446 + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const mbrFile = path.join(dir, 'mbr.raw');
  fs.writeFileSync(mbrFile, mbr);
  assert.equal((await inspectFile(mbrFile)).features.partitionTable, 'mbr');

  const blank = path.join(dir, 'blank.raw');
  fs.writeFileSync(blank, Buffer.alloc(MiB));
  const i = await inspectFile(blank);
  assert.equal(i.format, 'raw');
  assert.equal(i.features.partitionTable, undefined);
});
