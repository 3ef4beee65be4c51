import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { exportImage, writeExportFile } from '../../../src/formats/writers/index.ts';
import { rawBytes } from '../../../src/formats/writers/raw.ts';
import { CHUNK_SIZE } from '../../../src/domain/disk.ts';
import { seededRandom } from '../../support/prng.ts';
import { openRawVirtualDisk } from '../raw-virtual-disk.ts';
import { MiB, buildFixtures, drain, sameBytes, sha256File } from './fixtures.ts';

let built: ReturnType<typeof buildFixtures>;
before(() => {
  built = buildFixtures();
});
after(() => built.cleanup());

test('raw file export reproduces every fixture byte for byte, sparse, with the exact length', async () => {
  for (const f of built.fixtures) {
    const disk = await openRawVirtualDisk(f.raw);
    const out = path.join(built.dir, `${f.name}.out.raw`);
    try {
      const { bytes } = await writeExportFile(disk, 'raw', out);
      assert.equal(bytes, f.size, f.name);
    } finally {
      await disk.close();
    }
    const st = fs.statSync(out);
    assert.equal(st.size, f.size, f.name);
    assert.ok(sameBytes(out, f.raw), f.name);
    if (f.name === 'wide-1g64k') {
      // 2.1 MiB of data in 1 GiB: zero ranges must be holes, not written zeros.
      assert.ok(st.blocks * 512 < 8 * MiB, `${f.name}: ${st.blocks * 512} bytes allocated`);
    }
    fs.rmSync(out);
  }
});

test('raw stream yields the virtual bytes with the announced length', async () => {
  for (const f of built.fixtures.filter((x) => x.size <= 64 * MiB)) {
    const disk = await openRawVirtualDisk(f.raw);
    try {
      const exp = exportImage(disk, 'raw');
      assert.equal(exp.size, f.size);
      const { bytes, sha256 } = await drain(exp.stream());
      assert.equal(bytes, f.size, f.name);
      assert.equal(sha256, sha256File(f.raw), f.name);
    } finally {
      await disk.close();
    }
  }
});

test('raw bytes of a range are the same bytes as the file holds there, across chunk edges and holes', async () => {
  const random = seededRandom(0x5eed);
  for (const f of built.fixtures.filter((x) => x.size <= 64 * MiB)) {
    const disk = await openRawVirtualDisk(f.raw);
    const whole = fs.readFileSync(f.raw);
    try {
      const spans: [number, number][] = [[0, f.size], [0, 1], [f.size - 1, f.size], [CHUNK_SIZE - 3, CHUNK_SIZE + 3]];
      for (let i = 0; i < 12; i++) {
        const from = Math.floor(random() * f.size);
        spans.push([from, from + 1 + Math.floor(random() * Math.min(f.size - from, 3 * CHUNK_SIZE))]);
      }
      for (const [from, to] of spans.filter(([a, b]) => b <= f.size && a < b)) {
        const parts: Buffer[] = [];
        for await (const b of rawBytes(disk, from, to)) parts.push(Buffer.from(b));
        const got = Buffer.concat(parts);
        assert.ok(got.equals(whole.subarray(from, to)), `${f.name} [${from}, ${to})`);
      }
    } finally {
      await disk.close();
    }
  }
});
