import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CHUNK_SIZE, chunkCount, chunkLength, type VirtualDisk, zeroMaskOf } from '../../../src/domain/disk.ts';
import { exportImage, writeExportFile } from '../../../src/formats/writers/index.ts';
import { MiB, qemuCompare, qemuImg, qemuInfo, tempDir } from './fixtures.ts';
import { needing } from '../../support/requires.ts';

const { after, before, test } = needing('qemu-img');

const GiB = 1024 * MiB;
let dir: string;
before(() => {
  dir = tempDir();
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * A huge disk holding random data in three chunks (first, middle, last), as a synthetic VirtualDisk
 * plus the same bytes in a sparse raw file for qemu-img compare. Layouts come from the masks alone.
 */
function hugeDisk(size: number): { disk: VirtualDisk; raw: string } {
  const count = chunkCount(size);
  const data = new Map<number, Buffer>();
  for (const index of [0, Math.floor(count / 2), count - 1]) {
    const buf = randomFillSync(Buffer.alloc(chunkLength(size, index)));
    buf.fill(0, Math.min(MiB, buf.length), Math.min(2 * MiB, buf.length)); // a zero hole inside the chunk
    data.set(index, buf);
  }
  const raw = path.join(dir, `huge-${size}.raw`);
  const fd = fs.openSync(raw, 'w');
  fs.ftruncateSync(fd, size);
  for (const [index, buf] of data) fs.writeSync(fd, buf, 0, buf.length, index * CHUNK_SIZE);
  fs.closeSync(fd);
  const disk: VirtualDisk = {
    virtualSize: size,
    chunkCount: count,
    dataChunks: () => [...data.keys()].sort((x, y) => x - y),
    zeroMask: (i) => (data.has(i) ? zeroMaskOf(data.get(i)!) : null),
    readChunk: async (i) => data.get(i) ?? null,
  };
  return { disk, raw };
}

// 2000 GiB is just under the VHD limit. qemu-img compare walks a VMDK grain by grain, so VMDK gets 100 GiB.
const CASES = [
  { format: 'qcow2', qemuFormat: 'qcow2', size: 2000 * GiB },
  { format: 'vhd', qemuFormat: 'vpc', size: 2000 * GiB },
  { format: 'vmdk', qemuFormat: 'vmdk', size: 100 * GiB + 512 },
] as const;

for (const { format, qemuFormat, size } of CASES) {
  test(`${format}: a ${Math.round(size / GiB)} GiB sparse disk exports to a small file qemu-img reads back identically`, async () => {
    const { disk, raw } = hugeDisk(size);
    const out = path.join(dir, `huge.${format}`);
    const { bytes } = await writeExportFile(disk, format, out);
    const announced = exportImage(disk, format).size;
    if (announced !== undefined) assert.equal(bytes, announced);
    assert.ok(bytes < 32 * MiB, `${format}: ${bytes} bytes`);
    assert.equal(qemuInfo(out, qemuFormat)['virtual-size'], size);
    if (qemuFormat !== 'vpc') assert.equal(qemuImg(['check', '-f', qemuFormat, out]).status, 0);
    assert.deepEqual(qemuCompare(raw, out, qemuFormat), { status: 0, message: 'Images are identical.' });
    fs.rmSync(out);
    fs.rmSync(raw);
  });
}
