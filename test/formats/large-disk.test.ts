/**
 * 1 TiB virtual disks with a few MiB written: inspection and streaming must not depend on the virtual size
 * (lazy L2 / grain tables, no per-cluster work for unallocated ranges) and must keep memory small.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { CHUNK_SIZE, chunkCount, chunkLength, isAllZero } from '../../src/domain/disk.ts';
import { inspect, openFileSource, openReader } from '../../src/formats/index.ts';
import type { ImportFormat } from '../../src/formats/types.ts';
import { makeTempDir, MiB, qemuImg, qemuIo, removeDir } from './qemu-fixtures.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

const TiB = 1024 * 1024 * MiB;
const SIZE = TiB;

interface Write {
  offset: number;
  length: number;
  pattern: number;
}

const WRITES: Write[] = [
  { offset: 0, length: 2 * MiB, pattern: 0xa1 },
  { offset: 300 * 1024 * MiB + 64 * 1024, length: MiB, pattern: 0xb2 },
  { offset: 777 * 1024 * MiB + 3 * MiB, length: 2 * MiB, pattern: 0xc3 }, // crosses a chunk boundary
  { offset: SIZE - MiB, length: MiB, pattern: 0xd4 },
];

let dir = '';
before(() => {
  dir = makeTempDir();
});
after(() => removeDir(dir));

/** The chunk's expected bytes, or null when no write touches it. */
function expectedChunk(index: number): Buffer | null {
  const start = index * CHUNK_SIZE;
  const length = chunkLength(SIZE, index);
  let buf: Buffer | null = null;
  for (const w of WRITES) {
    const from = Math.max(start, w.offset);
    const to = Math.min(start + length, w.offset + w.length);
    if (from >= to) continue;
    buf ??= Buffer.alloc(length);
    buf.fill(w.pattern, from - start, to - start);
  }
  return buf;
}

const formats: { name: string; qemu: string; format: ImportFormat; opts?: string[] }[] = [
  { name: 'qcow2', qemu: 'qcow2', format: 'qcow2' },
  { name: 'VHD dynamic', qemu: 'vpc', format: 'vhd', opts: ['-o', 'force_size=on'] },
  { name: 'VMDK monolithicSparse', qemu: 'vmdk', format: 'vmdk' },
  { name: 'VHDX', qemu: 'vhdx', format: 'vhdx' },
];

for (const f of formats) {
  test(`${f.name}: 1 TiB virtual, a few MiB written, streams with small memory`, async () => {
    const file = path.join(dir, `big.${f.qemu}`);
    qemuImg('create', '-f', f.qemu, ...(f.opts ?? []), file, String(SIZE));
    qemuIo(file, f.qemu, ...WRITES.map((w) => `write -P ${w.pattern} ${w.offset} ${w.length}`));
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const src = await openFileSource(file);
    try {
      const inspection = await inspect(src, { declared: f.format });
      assert.equal(inspection.virtualSize, SIZE);
      assert.ok(inspection.allocatedBytes >= 6 * MiB && inspection.allocatedBytes < 256 * MiB, `allocated ${inspection.allocatedBytes}`);
      const reader = await openReader(src, inspection);
      let n = 0;
      let data = 0;
      for await (const c of reader.chunks()) {
        assert.equal(c.index, n++);
        const expected = expectedChunk(c.index);
        if (c.data === null) {
          assert.equal(expected, null, `chunk ${c.index} holds data but came back null`);
        } else {
          // Formats with big blocks (VHDX: 32 MiB here) also return the allocated zeros around the writes.
          data++;
          assert.ok(expected ? c.data.equals(expected) : isAllZero(c.data), `chunk ${c.index} differs`);
        }
        if ((c.index & 4095) === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      assert.equal(n, chunkCount(SIZE));
      assert.ok(data >= 5 && data <= 40, `${data} chunks with data`);
    } finally {
      await src.close();
    }
    const growth = peak - baseline;
    assert.ok(growth < 160 * MiB, `RSS grew by ${(growth / MiB).toFixed(0)} MiB`);
  });
}
