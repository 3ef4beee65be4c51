/** Byte sources, bounds-checked reads, CRC-32C, and chunk assembly from pieces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { deflateRawSync, deflateSync } from 'node:zlib';
import { bufferSource, inspect, openFileSource, openReader, readExact } from '../../src/formats/index.ts';
import { readInto } from '../../src/formats/source.ts';
import { alignedBuffer } from '../../src/formats/aligned-memory.ts';
import { FileWriter } from '../../src/formats/writers/file.ts';
import { overlapsData } from '../../src/formats/data-extents.ts';
import { requires } from '../support/requires.ts';
import { crc32c } from '../../src/formats/crc32c.ts';
import { fillChunk } from '../../src/formats/pieces.ts';
import { forEachSetRun } from '../../src/formats/vhd/reader.ts';
import { makeTempDir, rejectsWith, removeDir } from './qemu-fixtures.ts';

const MIB = 1024 * 1024;

test('readExact returns the bytes and rejects reads past the end as truncated', async () => {
  const data = randomFillSync(Buffer.alloc(1000));
  const src = bufferSource(data);
  assert.ok((await readExact(src, 100, 200)).equals(data.subarray(100, 300)));
  assert.equal((await readExact(src, 1000, 0)).length, 0);
  await rejectsWith(readExact(src, 900, 200), 'InvalidImage.Truncated');
  await rejectsWith(readExact(src, 2 ** 60, 8), 'InvalidImage.Truncated');
  await rejectsWith(readExact(src, -1, 8), 'InvalidImage.Truncated');
});

test('file sources read like buffer sources', async () => {
  const dir = makeTempDir();
  try {
    const data = randomFillSync(Buffer.alloc(70000));
    const file = path.join(dir, 'f.bin');
    fs.writeFileSync(file, data);
    const src = await openFileSource(file);
    try {
      assert.equal(src.size, 70000);
      assert.ok((await readExact(src, 65000, 5000)).equals(data.subarray(65000)));
      await rejectsWith(readExact(src, 69999, 2), 'InvalidImage.Truncated');
    } finally {
      await src.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('a direct file source reads whole aligned blocks into aligned memory past the page cache, and the rest through it', async (t) => {
  const dir = makeTempDir();
  try {
    const file = path.join(dir, 'spool.bin');
    const data = randomFillSync(Buffer.alloc(8 * MIB + 1000));
    const writer = await FileWriter.create(file);
    await writer.write(data, 0);
    await writer.finish();
    await writer.close();
    const cached = () => Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim());
    try {
      fs.closeSync(fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT));
    } catch {
      return t.skip(`${os.tmpdir()} does not take O_DIRECT`);
    }
    for (const direct of [true, false]) {
      execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']); // drops the file from the page cache
      assert.equal(cached(), 0);
      const src = await openFileSource(file, { direct });
      try {
        const chunks = [alignedBuffer(4 * MIB), alignedBuffer(4 * MIB)];
        await readInto(src, chunks[0], 0, 4 * MIB, 0, 'data');
        await readInto(src, chunks[1], 4096, 4 * MIB - 4096, 4 * MIB + 4096, 'data'); // aligned at an offset in the buffer
        await readInto(src, chunks[1], 0, 4096, 4 * MIB, 'data');
        assert.ok(Buffer.concat([...chunks, await readExact(src, 8 * MIB, 1000)]).equals(data));
      } finally {
        await src.close();
      }
      if (direct) assert.ok(cached() <= 4096, `${cached()} bytes cached: only the partial last block goes through the page cache`);
      else assert.ok(cached() >= 8 * MIB, 'without direct, every read fills the page cache');
    }
  } finally {
    removeDir(dir);
  }
});

test('crc32c matches the standard check value', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
});

test('fillChunk places data, zero-fills gaps, coalesces runs and inflates compressed pieces', async () => {
  const file = randomFillSync(Buffer.alloc(64 * 1024));
  const unit = Buffer.alloc(4096, 0x77);
  unit.fill(0x12, 100, 200);
  const raw = deflateRawSync(unit);
  const z = deflateSync(unit);
  const marker = Buffer.concat([Buffer.alloc(12), z]);
  marker.writeUInt32LE(z.length, 8);
  const host = Buffer.concat([file, raw, Buffer.alloc(3), z, marker]);
  const rawAt = file.length;
  const zAt = rawAt + raw.length + 3;
  const markerAt = zAt + z.length;
  const chunk = await fillChunk(bufferSource(host), [
    { kind: 'data', at: 10, length: 100, host: 0 },
    { kind: 'data', at: 110, length: 50, host: 100 },
    { kind: 'compressed', codec: 'deflate-raw', at: 1000, length: 4096, host: rawAt, window: raw.length + 512, unit: 4096, skip: 0 },
    { kind: 'compressed', codec: 'zlib', at: 6000, length: 1000, host: zAt, window: z.length, unit: 4096, skip: 50 },
    { kind: 'compressed', codec: 'vmdk-marker', at: 8000, length: 4096, host: markerAt, window: 8192, unit: 4096, skip: 0 },
  ], 16384);
  const expected = Buffer.alloc(16384);
  file.copy(expected, 10, 0, 150);
  unit.copy(expected, 1000);
  unit.copy(expected, 6000, 50, 1050);
  unit.copy(expected, 8000);
  assert.ok(chunk.equals(expected));
});

test('fillChunk rejects corrupt compressed data and oversize output', async () => {
  const bomb = deflateRawSync(Buffer.alloc(1 << 20));
  const src = bufferSource(Buffer.concat([bomb, Buffer.alloc(512, 0xff)]));
  await rejectsWith(fillChunk(src, [{ kind: 'compressed', codec: 'deflate-raw', at: 0, length: 4096, host: 0, window: bomb.length, unit: 4096, skip: 0 }], 4096), 'InvalidImage.Malformed');
  await rejectsWith(fillChunk(src, [{ kind: 'compressed', codec: 'zlib', at: 0, length: 4096, host: bomb.length, window: 512, unit: 4096, skip: 0 }], 4096), 'InvalidImage.Malformed');
  await rejectsWith(fillChunk(src, [{ kind: 'data', at: 0, length: 4096, host: src.size - 100 }], 4096), 'InvalidImage.Truncated');
});

test('forEachSetRun finds runs of set bits, most significant bit first', () => {
  const runs: [number, number][] = [];
  const bitmap = Buffer.from([0xff, 0xff, 0x0f, 0x00, 0x80, 0xff]);
  forEachSetRun(bitmap, 0, 48, (s, n) => runs.push([s, n]));
  assert.deepEqual(runs, [[0, 16], [20, 4], [32, 1], [40, 8]]);
  const partial: [number, number][] = [];
  forEachSetRun(bitmap, 3, 22, (s, n) => partial.push([s, n]));
  assert.deepEqual(partial, [[3, 13], [20, 2]]);
});

test('a raw file with holes: chunks in its holes are planned as nothing and never read, the bytes stay the same', { skip: requires('xfs_io') }, async () => {
  const dir = makeTempDir();
  try {
    const MiB = 1 << 20;
    const file = path.join(dir, 'holes.raw');
    const fd = fs.openSync(file, 'w');
    fs.ftruncateSync(fd, 64 * MiB + 4096);
    const data = randomFillSync(Buffer.alloc(MiB + 7));
    fs.writeSync(fd, data, 0, data.length, 24 * MiB - 100); // straddles chunks 5 and 6
    fs.writeSync(fd, data, 0, 10, 64 * MiB); // the short last chunk
    fs.closeSync(fd);
    const src = await openFileSource(file);
    try {
      assert.ok(src.dataExtents && src.dataExtents.length >= 2, 'xfs_io found the data');
      const inspection = await inspect(src);
      assert.equal(inspection.format, 'raw');
      assert.equal(inspection.allocatedBytes, 2 * 4 * MiB + 4096, 'the chunks holding data, whole');
      const reads: number[] = [];
      const counting = { size: src.size, dataExtents: src.dataExtents, read: (b: Buffer, o: number, l: number, p: number) => (reads.push(p), src.read(b, o, l, p)) };
      const got = Buffer.alloc(src.size);
      const withData: number[] = [];
      for await (const c of (await openReader(counting, inspection)).chunks()) {
        if (c.data) {
          withData.push(c.index);
          c.data.copy(got, c.index * 4 * MiB);
        }
      }
      assert.deepEqual(withData, [5, 6, 16]);
      assert.ok(reads.every((p) => Math.floor(p / (4 * MiB)) === 5 || Math.floor(p / (4 * MiB)) === 6 || p >= 64 * MiB || p < 4096 || p >= src.size - 4096), `reads at ${reads.join(', ')}`);
      assert.ok(got.equals(fs.readFileSync(file)));
    } finally {
      await src.close();
    }
    fs.writeFileSync(path.join(dir, 'dense.bin'), data);
    const dense = await openFileSource(path.join(dir, 'dense.bin'));
    assert.equal(dense.dataExtents, undefined, 'a file without holes is not asked about');
    await dense.close();
  } finally {
    removeDir(dir);
  }
});

test('overlapsData finds an extent overlapping a range', () => {
  const extents: [number, number][] = [[10, 20], [30, 40], [100, 200]];
  assert.equal(overlapsData(extents, 0, 10), false);
  assert.equal(overlapsData(extents, 0, 11), true);
  assert.equal(overlapsData(extents, 20, 30), false);
  assert.equal(overlapsData(extents, 39, 40), true);
  assert.equal(overlapsData(extents, 40, 100), false);
  assert.equal(overlapsData(extents, 150, 151), true);
  assert.equal(overlapsData(extents, 200, 300), false);
  assert.equal(overlapsData([], 0, 1e9), false);
});
