/**
 * Deferred chunk reads: a reader opened with `deferReads` leaves plain-data chunks for the hash workers to read
 * (HashPool.readAndHash, from the source's file descriptors) and hash slice by slice. What they store must be what
 * the reader itself would have read: the same bytes, refs, zero masks and zero chunks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HashPool } from '../../src/blobs/hash-pool.ts';
import { importDiskWithStats } from '../../src/blobs/importer.ts';
import { sha256Ref } from '../../src/blobs/refs.ts';
import { manifestDisk } from '../../src/blobs/manifests.ts';
import { ChunkBufferPool } from '../../src/formats/buffer-pool.ts';
import { inspect, openFileSource, openReader } from '../../src/formats/index.ts';
import { bufferSource } from '../../src/formats/source.ts';
import { planFill } from '../../src/formats/pieces.ts';
import type { ReadChunk } from '../../src/formats/types.ts';
import type { ClosableByteSource } from '../../src/formats/source.ts';
import { CHUNK_SIZE, ZERO_BLOCK_SIZE, zeroMaskOf } from '../../src/domain/disk.ts';
import { storeBackends } from '../support/stores.ts';
import { openBlobEnv, randomChunk, REGION } from './env.ts';

const MiB = 1024 * 1024;

/**
 * A raw disk of 5 chunks: random; zeros written out (allocated); a hole; random with blocks 8..15 and the upper
 * half zero; and a short last chunk (1 MiB) of random bytes.
 */
function writeRawDisk(file: string): Buffer {
  const disk = Buffer.alloc(4 * CHUNK_SIZE + MiB);
  randomChunk(1).copy(disk, 0);
  const third = randomChunk(3);
  third.fill(0, 8 * ZERO_BLOCK_SIZE, 16 * ZERO_BLOCK_SIZE);
  third.fill(0, CHUNK_SIZE / 2);
  third.copy(disk, 3 * CHUNK_SIZE);
  randomChunk(4, MiB).copy(disk, 4 * CHUNK_SIZE);
  const fd = fs.openSync(file, 'w');
  try {
    for (const i of [0, 1, 3, 4]) fs.writeSync(fd, disk, i * CHUNK_SIZE, Math.min(CHUNK_SIZE, disk.length - i * CHUNK_SIZE), i * CHUNK_SIZE);
    fs.ftruncateSync(fd, disk.length); // chunk 2 stays a hole
  } finally {
    fs.closeSync(fd);
  }
  return disk;
}

describe('deferred chunk reads (HashPool.readAndHash)', () => {
  let dir: string;
  let pool: HashPool;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-read-hash-'));
    pool = new HashPool({ workers: 2 });
  });
  after(async () => {
    await pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fills runs and the gaps between them on a worker, with the ref and zero mask of the bytes', async () => {
    const file = path.join(dir, 'runs.bin');
    const bytes = randomChunk(7, 3 * MiB);
    fs.writeFileSync(file, bytes);
    const src = await openFileSource(file);
    const buffers = new ChunkBufferPool();
    try {
      // Out of host order, with zero gaps before, between and after the runs; the last run ends mid-block.
      const pieces = [
        { kind: 'data' as const, at: 2 * ZERO_BLOCK_SIZE, length: MiB - 100_000, host: 2 * MiB },
        { kind: 'data' as const, at: 2 * ZERO_BLOCK_SIZE + MiB - 100_000, length: 100_000, host: 3 * MiB - 100_000 },
        { kind: 'data' as const, at: 2 * MiB, length: MiB + 4096, host: 12_288 },
      ];
      const buf = buffers.acquire(CHUNK_SIZE).fill(0xee); // stale bytes must not survive in the gaps
      const fill = planFill(src, pieces, buf);
      assert.ok(fill, 'a file source with only data pieces defers');
      assert.equal(fill.runs.length, 2, 'host-contiguous pieces merge into one run');
      const want = Buffer.alloc(CHUNK_SIZE);
      bytes.copy(want, 2 * ZERO_BLOCK_SIZE, 2 * MiB, 3 * MiB);
      bytes.copy(want, 2 * MiB, 12_288, 12_288 + MiB + 4096);
      const out = await pool.readAndHash(buf, fill);
      assert.ok(out);
      assert.ok(buf.equals(want), 'the buffer holds the chunk');
      assert.equal(out.ref, sha256Ref(want));
      assert.equal(out.zeroMask, zeroMaskOf(want));
      assert.notEqual(out.zeroMask, 0n);

      const inline = new HashPool({ workers: 0 });
      const again = buffers.acquire(CHUNK_SIZE).fill(0xee);
      const viaSource = await inline.readAndHash(again, planFill(src, pieces, again)!);
      await inline.close();
      assert.deepEqual({ ref: viaSource?.ref, mask: viaSource?.zeroMask }, { ref: out.ref, mask: out.zeroMask });
    } finally {
      await src.close();
    }
  });

  it('answers null for a chunk whose bytes are all zero, and a file cut short as truncated', async () => {
    const file = path.join(dir, 'zeros.bin');
    fs.writeFileSync(file, Buffer.alloc(2 * MiB));
    const src = await openFileSource(file);
    try {
      const buf = new ChunkBufferPool().acquire(CHUNK_SIZE);
      const zeros = planFill(src, [{ kind: 'data', at: MiB, length: 2 * MiB, host: 0 }], buf)!;
      assert.equal(await pool.readAndHash(buf, zeros), null);
      // Zeros read from the file before data: hashed once the data comes.
      const mixed = path.join(dir, 'mixed.bin');
      const bytes = Buffer.concat([Buffer.alloc(MiB + 4096), randomChunk(9, MiB)]);
      fs.writeFileSync(mixed, bytes);
      const mixedSrc = await openFileSource(mixed);
      try {
        const out = await pool.readAndHash(buf, planFill(mixedSrc, [{ kind: 'data', at: 0, length: bytes.length, host: 0 }], buf)!);
        const want = Buffer.concat([bytes, Buffer.alloc(CHUNK_SIZE - bytes.length)]);
        assert.deepEqual({ ref: out?.ref, mask: out?.zeroMask }, { ref: sha256Ref(want), mask: zeroMaskOf(want) });
      } finally {
        await mixedSrc.close();
      }
      // Planned while the file was long enough, read after it shrank.
      const late = planFill(src, [{ kind: 'data', at: 0, length: 2 * MiB, host: 0 }], buf)!;
      fs.truncateSync(file, MiB);
      await assert.rejects(pool.readAndHash(buf, late), (e: Error & { reason?: string }) => e.reason === 'truncated');
    } finally {
      await src.close();
    }
  });

  it('defers only chunks of plain file bytes from a source with a file', async () => {
    const buf = Buffer.alloc(CHUNK_SIZE);
    const pieces = [{ kind: 'data' as const, at: 0, length: 4096, host: 0 }];
    assert.equal(planFill(bufferSource(Buffer.alloc(8192)), pieces, buf), null, 'no file: read by the reader');
    const file = path.join(dir, 'small.bin');
    fs.writeFileSync(file, Buffer.alloc(8192));
    const src = await openFileSource(file);
    try {
      const compressed = { kind: 'compressed' as const, codec: 'zlib' as const, at: 4096, length: 4096, host: 0, window: 512, unit: 4096, skip: 0 };
      assert.equal(planFill(src, [...pieces, compressed], buf), null, 'compressed pieces are inflated by the reader');
      assert.throws(() => planFill(src, [{ kind: 'data', at: 0, length: 4096, host: 8000 }], buf), (e: Error & { reason?: string }) => e.reason === 'truncated');
    } finally {
      await src.close();
    }
  });

  for (const backend of storeBackends()) {
    it(`imports a raw file read by the workers as the reader reads it; a source read direct stays with the reader (${backend.name})`, { skip: backend.skip }, async () => {
      const file = path.join(dir, 'disk.raw');
      const disk = writeRawDisk(file);
      const buffers = new ChunkBufferPool();
      const importWith = async (src: ClosableByteSource, deferReads: boolean) => {
        const env = await openBlobEnv(backend);
        try {
          const reader = await openReader(src, await inspect(src), { allocate: (n) => buffers.acquire(n), deferReads });
          let deferred = 0;
          const counted: typeof reader = {
            virtualSize: reader.virtualSize,
            async *chunks(): AsyncGenerator<ReadChunk> {
              for await (const c of reader.chunks()) {
                if (c.fill) deferred++;
                yield c;
              }
            },
          };
          const { manifest, stats } = await importDiskWithStats(counted, { store: env.cas, index: env.index, region: REGION, hashPool: pool }, { buffers });
          const back = Buffer.alloc(manifest.virtualSize);
          const stored = manifestDisk(manifest, env.cas);
          for (let i = 0; i < stored.chunkCount; i++) (await stored.readChunk(i))?.copy(back, i * CHUNK_SIZE);
          return { manifest, stats, back, deferred };
        } finally {
          await src.close();
          await env.dispose();
        }
      };
      const read = await importWith(await openFileSource(file), false);
      const buffered = await importWith(await openFileSource(file), true);
      const direct = await importWith(await openFileSource(file, { direct: true }), true);
      assert.equal(read.deferred, 0);
      assert.equal(buffered.deferred, 4, 'every chunk with data (the hole needs no read)');
      assert.equal(direct.deferred, 0, 'direct reads come from the disk: the reader keeps several whole-chunk reads in flight');
      for (const got of [read, buffered, direct]) {
        assert.ok(got.back.equals(disk), 'the stored disk is the file');
        assert.equal(got.stats.zeroChunks, 2, 'the written zeros and the hole');
        assert.equal(got.stats.uploadedChunks, 3);
      }
      assert.deepEqual(buffered.manifest, read.manifest);
      assert.deepEqual(direct.manifest, read.manifest);
    });
  }
});
