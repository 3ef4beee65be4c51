/** The in-memory builders (fuzz seeds, regression bases) make images qemu-img reads as the same disk. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, MiB, qemuRawSha256, removeDir, streamFile } from './qemu-fixtures.ts';
import { qcow2Image, sampleDisk, vhdDynamicImage, vhdFixedImage, vhdxImage, vmdkSparseImage } from './small-images.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let dir = '';
before(() => {
  dir = makeTempDir();
});
after(() => removeDir(dir));

const small = sampleDisk(256 * 1024);
const twoBlocks = sampleDisk(MiB + 128 * 1024);
const cases: [string, string, Buffer, Buffer][] = [
  ['qcow2', 'qcow2', qcow2Image(small), small],
  ['qcow2 compressed', 'qcow2', qcow2Image(small, { compressed: true }), small],
  ['qcow2 extended L2', 'qcow2', qcow2Image(small, { clusterBits: 14, extendedL2: true }), small],
  ['VHD dynamic', 'vpc', vhdDynamicImage(small), small],
  ['VHD fixed', 'vpc', vhdFixedImage(small), small],
  ['VMDK monolithicSparse', 'vmdk', vmdkSparseImage(small), small],
  ['VHDX', 'vhdx', vhdxImage(twoBlocks), twoBlocks],
];

for (const [name, qemuFormat, image, disk] of cases) {
  test(`${name}: qemu-img and our reader both read the disk back`, async () => {
    const file = path.join(dir, name.replace(/ /g, '-'));
    fs.writeFileSync(file, image);
    const want = createHash('sha256').update(disk).digest('hex');
    assert.equal(qemuRawSha256(file, qemuFormat, dir).sha256, want);
    assert.equal((await streamFile(file)).sha256, want);
  });
}
