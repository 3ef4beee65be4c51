import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { FileWriter, writeStreamToFile } from '../../../src/formats/writers/file.ts';
import { CountingPool } from '../../support/counting-pool.ts';
import { alignedBuffer } from '../../../src/formats/aligned-memory.ts';

const MIB = 1 << 20;

test('writes at positions land byte for byte: unaligned edges, runs across staging buffers, two runs sharing a block, holes kept', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-file-writer-'));
  try {
    const size = 64 * MIB + 777;
    const expected = Buffer.alloc(size);
    // [position, length, piece size the caller hands over]
    const runs: [number, number, number][] = [
      [0, 4096, 4096], // one aligned block
      [8192 + 100, 3000, 1000], // inside one block, unaligned both ends
      [8192 + 3100, 5000, 4999], // starts in the block the run before ends in
      [MIB - 5, 9 * MIB + 11, 65536], // crosses staging buffers, unaligned both ends
      [20 * MIB, 4 * MIB, 4 * MIB], // exactly one staging buffer
      [size - 700, 700, 300], // the unaligned tail
    ];
    const file = path.join(dir, 'out.raw');
    const writer = await FileWriter.create(file, { size });
    try {
      for (const [at, length, piece] of runs) {
        const data = crypto.randomBytes(length);
        data.copy(expected, at);
        for (let done = 0; done < length; done += piece) {
          const part = Buffer.from(data.subarray(done, Math.min(length, done + piece)));
          await writer.write(part, at + done);
          part.fill(0xee); // the caller may reuse its buffer once write resolves
        }
      }
      await writer.finish();
    } finally {
      await writer.close();
    }
    assert.equal(fs.statSync(file).size, size);
    assert.ok(fs.readFileSync(file).equals(expected));
    const allocated = fs.statSync(file).blocks * 512;
    assert.ok(allocated <= 14 * MIB, `allocated ${allocated / MIB} MiB for about 13 MiB of data in a 64 MiB file`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFrom writes an aligned buffer from its own memory, with no staging buffer, and copies anything else', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-file-writer-'));
  try {
    const file = path.join(dir, 'out.raw');
    const staging = new CountingPool();
    const size = 16 * MIB;
    const expected = Buffer.alloc(size);
    const writer = await FileWriter.create(file, { size, staging, exclusive: true });
    try {
      const aligned = alignedBuffer(4 * MIB);
      crypto.randomFillSync(aligned);
      aligned.copy(expected, 8 * MIB);
      await writer.writeFrom(aligned, 8 * MIB);
      assert.equal(staging.acquired, 0, 'an aligned buffer at an aligned position is written as it is');
      const odd = crypto.randomBytes(5000);
      odd.copy(expected, 100);
      await writer.writeFrom(odd, 100);
      odd.fill(0xee); // copied: the caller may reuse it at once
      assert.equal(staging.acquired, 1);
      await writer.finish();
    } finally {
      await writer.close();
    }
    assert.ok(fs.readFileSync(file).equals(expected));
    await assert.rejects(FileWriter.create(file, { exclusive: true }), { code: 'EEXIST' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a stream is written in order, and a failing source leaves the caller an error, not a hang', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-file-writer-'));
  try {
    const bytes = crypto.randomBytes(13 * MIB + 3);
    async function* pieces(fail: boolean) {
      for (let at = 0; at < bytes.length; at += 1 << 19) {
        if (fail && at > 9 * MIB) throw new Error('source failed');
        yield bytes.subarray(at, at + (1 << 19));
      }
    }
    const file = path.join(dir, 'stream.bin');
    assert.deepEqual(await writeStreamToFile(pieces(false), file), { bytes: bytes.length });
    assert.ok(fs.readFileSync(file).equals(bytes));
    await assert.rejects(writeStreamToFile(pieces(true), path.join(dir, 'failed.bin')), /source failed/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without WebAssembly (node --jitless) the staging memory is not aligned: the writes go buffered, byte for byte', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-file-writer-'));
  try {
    const writer = pathToFileURL(path.resolve(import.meta.dirname, '../../../src/formats/writers/file.ts')).href;
    const script = `
      const { FileWriter } = await import(${JSON.stringify(writer)});
      const crypto = await import('node:crypto');
      const fs = await import('node:fs');
      const file = ${JSON.stringify(path.join(dir, 'out.raw'))};
      const data = crypto.randomBytes(9 * 1024 * 1024);
      const w = await FileWriter.create(file, { size: 20 * 1024 * 1024 });
      try { await w.write(data, 3 * 4096 + 5); await w.finish(); } finally { await w.close(); }
      const back = fs.readFileSync(file);
      console.log(typeof WebAssembly, back.length, back.subarray(3 * 4096 + 5, 3 * 4096 + 5 + data.length).equals(data));`;
    const out = execFileSync(process.execPath, ['--jitless', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(out.trim(), `undefined ${20 * MIB} true`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
