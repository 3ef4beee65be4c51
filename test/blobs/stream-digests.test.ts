/**
 * writeAndDigest and storeAndDigest: the file (or the chunk store, under the returned manifest) holds the body and
 * the digests are those of its bytes, whether workers hash it or the caller does.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { storeAndDigest, writeAndDigest, writeSparseAndDigest } from '../../src/blobs/stream-digests.ts';
import { sparseBody, sparseFrameHeader, sparseHeader } from '../../src/formats/sparse-body.ts';
import { ChunkBufferPool } from '../../src/formats/buffer-pool.ts';
import { CountingPool } from '../support/counting-pool.ts';
import { manifestDisk } from '../../src/blobs/manifests.ts';
import { sha256Ref } from '../../src/blobs/refs.ts';
import { openBlobEnv, REGION } from './env.ts';
import { storeBackends } from '../support/stores.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { seededRandom } from '../support/prng.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-digests-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `total` pseudo-random bytes in pieces of uneven sizes, as a socket delivers them. */
function body(total: number, seed: number): { bytes: Buffer; stream: Readable } {
  const rnd = seededRandom(seed);
  const bytes = Buffer.alloc(total);
  for (let i = 0; i < total; i += 4) bytes.writeUInt32LE(Math.floor(rnd() * 2 ** 32), i);
  const pieces: Buffer[] = [];
  for (let off = 0; off < total;) {
    const n = Math.min(total - off, 1 + Math.floor(rnd() * 200_000));
    pieces.push(bytes.subarray(off, off + n));
    off += n;
  }
  return { bytes, stream: Readable.from(pieces) };
}

/** A body whose connection resets after `n` random bytes. */
function cutOff(n: number): Readable {
  const { bytes } = body(Math.ceil(n / 4) * 4, n);
  return Readable.from((async function* () {
    yield bytes.subarray(0, n);
    throw new Error('connection reset');
  })());
}

describe('writeAndDigest', () => {
  for (const [name, size] of [['empty', 0], ['under one piece', 1000], ['exactly one piece', CHUNK_SIZE], ['several pieces and a tail', 5 * CHUNK_SIZE + 12_344]] as const) {
    it(`${name}: the file and md5/sha512 match the body`, async () => {
      const { bytes, stream } = body(size, size + 7);
      const dest = path.join(dir, 'spool');
      const out = await writeAndDigest(stream, dest, ['md5', 'sha512'], new ChunkBufferPool());
      assert.equal(out.size, size);
      assert.deepEqual(out.hex, ['md5', 'sha512'].map((a) => crypto.createHash(a).update(bytes).digest('hex')));
      assert.ok(fs.readFileSync(dest).equals(bytes));
    });
  }

  it('writes full pieces from their own memory: the pieces plus one staging buffer for the tail, all given back', async () => {
    const { bytes, stream } = body(9 * CHUNK_SIZE + 4096 + 20, 3);
    const buffers = new CountingPool();
    const out = await writeAndDigest(stream, path.join(dir, 'spool'), ['sha256'], buffers);
    assert.equal(out.hex[0], crypto.createHash('sha256').update(bytes).digest('hex'));
    assert.ok(fs.readFileSync(path.join(dir, 'spool')).equals(bytes));
    assert.ok(buffers.acquired <= 5, `${buffers.acquired} buffers taken: 4 pieces in flight and 1 to stage the tail`);
    assert.equal(buffers.idle, buffers.acquired, 'every buffer went back to the pool');
  });

  it('a body that fails midway rejects, and its pieces are not handed out again', async () => {
    const buffers = new ChunkBufferPool();
    await assert.rejects(writeAndDigest(cutOff(2 * CHUNK_SIZE + 10), path.join(dir, 'spool'), ['sha256'], buffers), /connection reset/);
    assert.equal(buffers.idle, 0, 'pieces a failed upload may still be writing or hashing are not handed out again');
  });

  it('refuses to overwrite an existing file', async () => {
    fs.writeFileSync(path.join(dir, 'spool'), 'x');
    await assert.rejects(writeAndDigest(Readable.from([Buffer.from('abc')]), path.join(dir, 'spool'), ['md5'], new ChunkBufferPool()), { code: 'EEXIST' });
  });
});

describe('writeSparseAndDigest', () => {
  const MIB = 1024 * 1024;
  // [what, size, data extents]: holes inside a piece, across pieces, at both ends, no data at all
  const cases: [string, number, [number, number][]][] = [
    ['data and holes, unaligned edges included', 21 * MIB + 1000, [[0, 3 * MIB], [3 * MIB + 4096, 9 * MIB + 8192], [15 * MIB, 15 * MIB + 70_000], [21 * MIB, 21 * MIB + 1000]]],
    ['holes at both ends', 12 * MIB, [[5 * MIB, 7 * MIB]]],
    ['only holes', 9 * MIB + 5, []],
    ['one small piece', 4096, [[0, 4096]]],
  ];
  for (const [name, size, extents] of cases) {
    it(`${name}: the file keeps the holes and sha256 covers every byte`, async () => {
      const bytes = Buffer.alloc(size);
      for (const [a, b] of extents) crypto.randomFillSync(bytes, a, b - a);
      async function* pieces() {
        for (const [a, b] of extents) for (let at = a; at < b; at += 100_000) yield { offset: at, data: bytes.subarray(at, Math.min(b, at + 100_000)) };
      }
      const dest = path.join(dir, 'spool');
      const buffers = new CountingPool();
      const out = await writeSparseAndDigest(Readable.from(sparseBody(size, pieces())), dest, ['sha256', 'md5'], buffers);
      assert.deepEqual(out, { size, hex: ['sha256', 'md5'].map((a) => crypto.createHash(a).update(bytes).digest('hex')) });
      assert.ok(fs.readFileSync(dest).equals(bytes));
      const data = extents.reduce((n, [a, b]) => n + b - a, 0);
      assert.ok(fs.statSync(dest).blocks * 512 <= data + extents.length * 2 * 65536, `${fs.statSync(dest).blocks * 512} bytes allocated for ${data} of data`);
      assert.equal(buffers.idle, buffers.acquired, 'every buffer went back to the pool');
    });
  }

  it('a malformed body rejects and leaves no pieces out', async () => {
    const frames = [sparseHeader(10 * 4096), sparseFrameHeader(8192, 4096), Buffer.alloc(4096, 1), sparseFrameHeader(0, 4096), Buffer.alloc(4096, 2)];
    await assert.rejects(writeSparseAndDigest(Readable.from(frames), path.join(dir, 'spool'), ['sha256'], new ChunkBufferPool()), /must ascend/);
  });
});

describe('storeAndDigest', () => {
  const sqlite = storeBackends()[0];
  for (const [name, size] of [['empty', 0], ['under one piece', 1000], ['several pieces, a zero one and a tail', 5 * CHUNK_SIZE + 12_344]] as const) {
    it(`${name}: the manifest's chunks and md5/sha512 match the body`, async () => {
      const env = await openBlobEnv(sqlite);
      try {
        const { bytes, stream } = body(size, size + 11);
        if (size > 2 * CHUNK_SIZE) bytes.fill(0, CHUNK_SIZE, 2 * CHUNK_SIZE);
        const buffers = new ChunkBufferPool();
        const { manifest, hex } = await storeAndDigest(stream, { store: env.cas, index: env.index, region: REGION }, ['md5', 'sha512'], { buffers });
        assert.equal(manifest.virtualSize, size);
        assert.equal(buffers.idle, Math.min(8, Math.max(1, Math.ceil(size / CHUNK_SIZE))), 'every piece went back to the pool');
        assert.deepEqual(hex, ['md5', 'sha512'].map((a) => crypto.createHash(a).update(bytes).digest('hex')));
        const pieces = [];
        for (let off = 0; off < size; off += CHUNK_SIZE) pieces.push(bytes.subarray(off, Math.min(size, off + CHUNK_SIZE)));
        const withData = pieces.flatMap((p, index) => (p.some((b) => b !== 0) ? [{ index, ref: sha256Ref(p) }] : []));
        assert.deepEqual(manifest.entries.map((e) => ({ index: e.index, ref: e.ref })), withData);
        const vd = manifestDisk(manifest, env.cas);
        for (let i = 0; i < pieces.length; i++) assert.ok(((await vd.readChunk(i)) ?? Buffer.alloc(pieces[i].length)).equals(pieces[i]));
        // Stored and durable, not yet referenced: the caller commits the manifest.
        const rows = await env.meta.db.selectFrom('chunks').select(['ref', 'state', 'refcount']).execute();
        assert.deepEqual(rows.map((r) => [r.state, r.refcount]), withData.map(() => ['live', 0]));
      } finally {
        await env.dispose();
      }
    });
  }

  it('a body that fails midway rejects, with nothing committed', async () => {
    const env = await openBlobEnv(sqlite);
    try {
      const buffers = new ChunkBufferPool();
      await assert.rejects(storeAndDigest(cutOff(2 * CHUNK_SIZE + 10), { store: env.cas, index: env.index, region: REGION }, ['md5', 'sha512'], { buffers }), /connection reset/);
      assert.equal(buffers.idle, 0, 'pieces a failed upload may still be writing are not handed out again');
      assert.equal((await env.meta.db.selectFrom('manifests').select('id').execute()).length, 0);
    } finally {
      await env.dispose();
    }
  });
});
