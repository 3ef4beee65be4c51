/** importDisk / copyChunks / writeRange / collectGarbage end to end, on SQLite and PostgreSQL, fs and (once) s3rver. */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { storeBackends } from '../support/stores.ts';
import { s3Backends } from '../support/s3.ts';
import { importDisk, importDiskWithStats, copyChunks } from '../../src/blobs/importer.ts';
import { writeRange } from '../../src/blobs/write-range.ts';
import { collectGarbage } from '../../src/blobs/gc.ts';
import { manifestDisk } from '../../src/blobs/manifests.ts';
import { HashPool } from '../../src/blobs/hash-pool.ts';
import { FsChunkStore } from '../../src/blobs/fs-store.ts';
import { ChunkBufferPool } from '../../src/formats/buffer-pool.ts';
import { sha256Ref } from '../../src/blobs/refs.ts';
import type { ChunkStore, Manifest } from '../../src/blobs/types.ts';
import { CHUNK_SIZE, ZERO_BLOCK_SIZE } from '../../src/domain/disk.ts';
import { listRefs, memoryReader, openBlobEnv, randomChunk, REGION, type BlobEnv } from './env.ts';
import { denseChunks } from '../support/manifests.ts';

const GRACE = 60_000;

/**
 * 6 chunks: A, allocated zeros, A again, unallocated, B (blocks 8..15 zero), and a short C
 * (1 MiB + 123 bytes) at the end.
 */
function sampleDisk() {
  const a = randomChunk(1);
  const b = randomChunk(2);
  b.fill(0, 8 * ZERO_BLOCK_SIZE, 16 * ZERO_BLOCK_SIZE);
  const c = randomChunk(3, 1024 * 1024 + 123);
  const disk = Buffer.alloc(5 * CHUNK_SIZE + c.length);
  a.copy(disk, 0);
  a.copy(disk, 2 * CHUNK_SIZE);
  b.copy(disk, 4 * CHUNK_SIZE);
  c.copy(disk, 5 * CHUNK_SIZE);
  return { disk, unallocated: new Set([3]), refs: { a: sha256Ref(a), b: sha256Ref(b), c: sha256Ref(c) } };
}

async function readBack(m: Manifest, store: ChunkStore): Promise<Buffer> {
  const disk = manifestDisk(m, store);
  const out = Buffer.alloc(m.virtualSize);
  for (let i = 0; i < disk.chunkCount; i++) (await disk.readChunk(i))?.copy(out, i * CHUNK_SIZE);
  return out;
}

for (const backend of storeBackends()) {
  describe(`importer on ${backend.name} + fs`, { skip: backend.skip }, () => {
    let env: BlobEnv;
    let hashPool: HashPool;
    const deps = () => ({ store: env.cas, index: env.index, region: REGION, hashPool });
    const gc = () => collectGarbage({ index: env.index, store: env.cas, region: REGION, graceMs: GRACE, now: env.clock.now });
    before(() => {
      hashPool = new HashPool();
    });
    after(() => hashPool.close());
    beforeEach(async () => {
      env = await openBlobEnv(backend);
    });
    afterEach(() => env.dispose());

    it('stores each distinct non-zero chunk once and maps zeros to null', async () => {
      const { disk, unallocated, refs } = sampleDisk();
      const progress: number[] = [];
      const { manifest, stats } = await importDiskWithStats(memoryReader(disk, unallocated), deps(), {
        onProgress: (done, total) => {
          assert.equal(total, disk.length);
          progress.push(done);
        },
      });
      assert.equal(manifest.virtualSize, disk.length);
      assert.deepEqual(denseChunks(manifest).map((e) => e?.ref ?? null), [refs.a, null, refs.a, null, refs.b, refs.c]);
      assert.equal(denseChunks(manifest)[4]?.zeroMap, '000000000000ff00');
      assert.equal(denseChunks(manifest)[0]?.zeroMap, '0000000000000000');
      assert.deepEqual(stats, { chunks: 6, zeroChunks: 2, uploadedChunks: 3, uploadedBytes: 2 * CHUNK_SIZE + refsSize(disk) });
      assert.deepEqual(progress, [...progress].sort((x, y) => x - y));
      assert.equal(progress.at(-1), disk.length);
      assert.deepEqual(await listRefs(env.cas), Object.values(refs).sort());
      for (const r of Object.values(refs)) assert.equal((await env.row(r))?.state, 'live');

      await env.repo.commit(REGION, manifest);
      assert.equal((await env.row(refs.a))?.refcount, 2);
      assert.equal((await env.row(refs.b))?.refcount, 1);
      assert.equal((await env.row(refs.c))?.size, 1024 * 1024 + 123);
      assert.ok((await readBack(manifest, env.cas)).equals(disk));
    });

    it('re-importing the same disk uploads nothing and gives the same manifest', async () => {
      const { disk, unallocated } = sampleDisk();
      const first = await importDisk(memoryReader(disk, unallocated), deps());
      await env.repo.commit(REGION, first);
      const again = await importDiskWithStats(memoryReader(disk, unallocated), deps());
      assert.equal(again.stats.uploadedChunks, 0);
      assert.deepEqual(again.manifest, first);
    });

    it('recycles chunk buffers through a pool without mixing up chunks', async () => {
      const { disk, unallocated } = sampleDisk();
      const big = Buffer.concat([disk.subarray(0, 5 * CHUNK_SIZE), randomChunk(7), randomChunk(8), disk.subarray(5 * CHUNK_SIZE)]);
      const plain = await importDisk(memoryReader(big, unallocated), deps());
      const buffers = new ChunkBufferPool();
      const pooled = await importDiskWithStats(memoryReader(big, unallocated, buffers), deps(), { buffers, maxInFlight: 3 });
      assert.deepEqual(pooled.manifest, plain);
      assert.ok(buffers.idle >= 1 && buffers.idle <= 3, `idle ${buffers.idle}`);
      const again = await importDisk(memoryReader(big, unallocated, buffers), deps(), { buffers, maxInFlight: 3 });
      assert.deepEqual(again, plain);
      assert.ok((await readBack(again, env.cas)).equals(withZeros(big, unallocated)));
    });

    it('GC keeps referenced chunks, and removes unreferenced ones only after the grace period', async () => {
      const { disk, unallocated, refs } = sampleDisk();
      const whole = await importDisk(memoryReader(disk, unallocated), deps());
      const wholeId = await env.repo.commit(REGION, whole);
      const firstChunk = await importDisk(memoryReader(disk.subarray(0, CHUNK_SIZE)), deps());
      const firstId = await env.repo.commit(REGION, firstChunk);

      env.clock.advance(GRACE * 2);
      assert.equal((await gc()).deleted, 0, 'everything is referenced');
      await env.repo.release(wholeId);
      assert.equal((await gc()).deleted, 0, 'inside the grace period');
      env.clock.advance(GRACE + 1);
      const run = await gc();
      assert.equal(run.deleted, 2);
      assert.deepEqual(await listRefs(env.cas), [refs.a]);
      assert.ok((await readBack(firstChunk, env.cas)).equals(disk.subarray(0, CHUNK_SIZE)));
      await env.repo.release(firstId);
      env.clock.advance(GRACE + 1);
      assert.equal((await gc()).deleted, 1);
      assert.deepEqual(await listRefs(env.cas), []);
      assert.deepEqual(await env.rows(), []);
    });

    it('an aborted import commits nothing; GC reclaims what it stored after the grace period', async () => {
      const { disk } = sampleDisk();
      const ctl = new AbortController();
      await assert.rejects(
        importDisk(memoryReader(disk), deps(), { signal: ctl.signal, maxInFlight: 2, onProgress: (done) => done >= CHUNK_SIZE && ctl.abort() }),
        { name: 'AbortError' },
      );
      assert.ok((await env.rows()).every((r) => r.state !== 'live' && r.refcount === 0));
      env.clock.advance(GRACE + 1);
      await gc();
      assert.deepEqual(await listRefs(env.cas), []);
      assert.deepEqual(await env.rows(), []);
    });

    it('fails (does not hang) when the index or the store fails mid-import', async () => {
      const { disk } = sampleDisk();
      let touches = 0;
      const flakyIndex = Object.create(env.index, {
        touch: { value: (...args: Parameters<typeof env.index.touch>) => (++touches === 2 ? Promise.reject(new Error('index down')) : env.index.touch(...args)) },
      });
      await assert.rejects(importDisk(memoryReader(disk), { ...deps(), index: flakyIndex }, { maxInFlight: 2 }), /index down/);
      let puts = 0;
      const flakyStore = Object.create(env.cas, {
        put: { value: (ref: string, data: Buffer) => (++puts === 2 ? Promise.reject(new Error('disk full')) : env.cas.put(ref, data)) },
      });
      await assert.rejects(importDisk(memoryReader(disk), { ...deps(), store: flakyStore }, { maxInFlight: 2 }), /disk full/);
      assert.ok((await env.rows()).every((r) => r.state !== 'live'), 'nothing was marked live');
    });

    it('rejects a reader whose chunk has the wrong length', async () => {
      const reader = { virtualSize: 2 * CHUNK_SIZE, async *chunks() { yield { index: 0, data: Buffer.alloc(10, 1) }; } };
      await assert.rejects(importDisk(reader, deps()), RangeError);
    });

    it('writeRange patches a copy across a chunk boundary and leaves the original alone', async () => {
      const { disk, unallocated } = sampleDisk();
      const base = await importDisk(memoryReader(disk, unallocated), deps());
      await env.repo.commit(REGION, base);
      const patch = randomChunk(9, 300_000);
      const at = 3 * CHUNK_SIZE - 100_000; // end of the second A, into the unallocated chunk
      const next = await writeRange(base, at, patch, deps());
      const want = Buffer.from(disk);
      want.fill(0, 3 * CHUNK_SIZE, 4 * CHUNK_SIZE);
      patch.copy(want, at);
      assert.ok((await readBack(next, env.cas)).equals(want));
      assert.equal(denseChunks(next)[0]?.ref, denseChunks(base)[0]?.ref);
      assert.notEqual(denseChunks(next)[2]?.ref, denseChunks(base)[2]?.ref);
      assert.ok(denseChunks(next)[3] !== null);
      assert.deepEqual(denseChunks(next)[4], denseChunks(base)[4]);
      const original = Buffer.from(disk);
      original.fill(0, 3 * CHUNK_SIZE, 4 * CHUNK_SIZE);
      assert.ok((await readBack(base, env.cas)).equals(original));
      await env.repo.commit(REGION, next);

      // Zeroing a whole chunk makes its entry null; a write into the short last chunk keeps its length.
      const zeroed = await writeRange(next, 4 * CHUNK_SIZE, Buffer.alloc(CHUNK_SIZE), deps());
      assert.equal(denseChunks(zeroed)[4], null);
      const tail = await writeRange(zeroed, disk.length - 3, Buffer.from([1, 2, 3]), deps());
      const tailBytes = await manifestDisk(tail, env.cas).readChunk(5);
      assert.equal(tailBytes?.length, 1024 * 1024 + 123);
      assert.deepEqual([...tailBytes!.subarray(-3)], [1, 2, 3]);
      await assert.rejects(writeRange(base, disk.length - 1, Buffer.alloc(2), deps()), RangeError);
    });

    it('copyChunks moves only what the target region lacks', async () => {
      const { disk, unallocated } = sampleDisk();
      const m = await importDisk(memoryReader(disk, unallocated), deps());
      const target = new FsChunkStore(path.join(env.dir, 'other-cas'));
      const to = { store: target, index: env.index, region: 'other-region' };
      const moved = await copyChunks(m, env.cas, to);
      assert.equal(moved, 2 * CHUNK_SIZE + refsSize(disk));
      assert.equal(await copyChunks(m, env.cas, to), 0);
      await env.repo.commit('other-region', m);
      assert.ok((await readBack(m, target)).equals(withZeros(disk, unallocated)));
      // A chunk that is corrupt at the source is refused.
      const bad = Buffer.alloc(CHUNK_SIZE, 1);
      const ref = sha256Ref(Buffer.alloc(CHUNK_SIZE, 2));
      await env.cas.put(ref, bad);
      await assert.rejects(copyChunks({ virtualSize: CHUNK_SIZE, entries: [{ index: 0, ref, zeroMap: '0000000000000000' }] }, env.cas, to), /corrupt/);
    });

    it('copyChunks through pool buffers and the hash workers, as CopyImage runs it', async () => {
      const { disk, unallocated } = sampleDisk();
      const m = await importDisk(memoryReader(disk, unallocated), deps());
      const target = new FsChunkStore(path.join(env.dir, 'other-cas'));
      const to = { store: target, index: env.index, region: 'other-region' };
      const buffers = new ChunkBufferPool();
      const moved = await copyChunks(m, env.cas, to, { buffers, hashPool, concurrency: 2 });
      assert.equal(moved, 2 * CHUNK_SIZE + refsSize(disk));
      assert.ok(buffers.idle > 0 && buffers.idle <= 2, 'every buffer went back to the pool');
      await env.repo.commit('other-region', m);
      assert.ok((await readBack(m, target)).equals(withZeros(disk, unallocated)));
      const bad = Buffer.alloc(CHUNK_SIZE, 3);
      const ref = sha256Ref(Buffer.alloc(CHUNK_SIZE, 4));
      await env.cas.put(ref, bad);
      await assert.rejects(copyChunks({ virtualSize: CHUNK_SIZE, entries: [{ index: 0, ref, zeroMap: '0000000000000000' }] }, env.cas, to, { buffers, hashPool }), /corrupt/);
    });
  });
}

function refsSize(disk: Buffer) {
  return disk.length - 5 * CHUNK_SIZE;
}

function withZeros(disk: Buffer, unallocated: Set<number>) {
  const out = Buffer.from(disk);
  for (const i of unallocated) out.fill(0, i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
  return out;
}

const sqlite = storeBackends().find((b) => b.name === 'sqlite')!;

for (const s3 of s3Backends()) {
  describe(`importer on sqlite + S3 (${s3.name})`, { skip: s3.skip }, () => {
    it('imports, re-imports without uploads, reads back, and collects', async () => {
      const bucket = await s3.open({ prefix: 'cn-test/' });
      const env = await openBlobEnv(sqlite, { cas: bucket.store });
      const hashPool = new HashPool();
      try {
        const { disk, unallocated } = sampleDisk();
        const deps = { store: bucket.store, index: env.index, region: REGION, hashPool };
        const first = await importDiskWithStats(memoryReader(disk, unallocated), deps);
        assert.equal(first.stats.uploadedChunks, 3);
        const id = await env.repo.commit(REGION, first.manifest);
        const again = await importDiskWithStats(memoryReader(disk, unallocated), deps);
        assert.equal(again.stats.uploadedChunks, 0);
        assert.ok((await readBack(first.manifest, bucket.store)).equals(withZeros(disk, unallocated)));
        await env.repo.release(id);
        env.clock.advance(GRACE + 1);
        const run = await collectGarbage({ index: env.index, store: bucket.store, region: REGION, graceMs: GRACE, now: env.clock.now });
        assert.equal(run.deleted, 3);
        assert.deepEqual(await listRefs(bucket.store), []);
      } finally {
        await hashPool.close();
        await env.dispose();
        await bucket.dispose();
      }
    });
  });
}
