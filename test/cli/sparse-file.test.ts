import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { saveSparse } from '../../src/cli/sparse-file.ts';

const MIB = 1 << 20;

/** A body cut into pieces of odd sizes, so zero runs straddle the pieces. */
function body(bytes: Buffer, piece: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at + piece));
      at += piece;
    },
  });
}

test('zero runs become holes, the bytes and the length stay, and progress counts every byte', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-sparse-'));
  try {
    const bytes = Buffer.alloc(14 * MIB);
    crypto.randomFillSync(bytes, 0, MIB);
    bytes[9 * MIB + 3] = 7; // one byte in the middle of the zeros
    const out = path.join(dir, 'out.raw');
    let seen = 0;
    const n = await saveSparse(body(bytes, 1000 * 7 + 3), out, (k) => { seen += k; });
    assert.equal(n, bytes.length);
    assert.equal(seen, bytes.length);
    assert.ok(fs.readFileSync(out).equals(bytes));
    const allocated = fs.statSync(out).blocks * 512;
    assert.ok(allocated <= MIB + 256 * 1024, `allocated ${allocated} bytes for 1 MiB of data and one byte`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an all-zero body gives a file of its length with nothing allocated', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-sparse-'));
  try {
    const out = path.join(dir, 'zeros.raw');
    assert.equal(await saveSparse(body(Buffer.alloc(8 * MIB), 65536), out), 8 * MIB);
    assert.equal(fs.statSync(out).size, 8 * MIB);
    assert.equal(fs.statSync(out).blocks, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
