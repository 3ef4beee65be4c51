/** Reading a manifest's bytes for a download: a range as plain bytes or as a sparse body, one chunk read ahead. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { storeAndDigest } from '../../src/blobs/stream-digests.ts';
import { ChunkBufferPool } from '../../src/formats/buffer-pool.ts';
import { decodeSparse } from '../../src/formats/sparse-body.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { readManifestSparse } from '../../src/services/compute/disk-content.ts';
import { rawBytes } from '../../src/formats/writers/raw.ts';
import { manifestDisk } from '../../src/blobs/manifests.ts';
import { openBlobEnv, REGION } from '../blobs/env.ts';
import { storeBackends } from '../support/stores.ts';

test('a range reads as its bytes, plain or sparse; a download stopped while the chunk after is failing leaves no stray rejection', async () => {
  const env = await openBlobEnv(storeBackends()[0]);
  const strays: unknown[] = [];
  const onStray = (e: unknown) => strays.push(e);
  process.on('unhandledRejection', onStray);
  try {
    const bytes = crypto.randomBytes(4 * CHUNK_SIZE);
    bytes.fill(0, CHUNK_SIZE, 2 * CHUNK_SIZE); // an all-zero chunk: not stored, not in the sparse body
    const { manifest } = await storeAndDigest(Readable.from([bytes]), { store: env.cas, index: env.index, region: REGION }, ['md5'], { buffers: new ChunkBufferPool() });
    const [start, end] = [5, 3 * CHUNK_SIZE + 7];
    const plain: Buffer[] = [];
    for await (const b of rawBytes(manifestDisk(manifest, env.cas), start, end)) plain.push(Buffer.from(b));
    assert.ok(Buffer.concat(plain).equals(bytes.subarray(start, end)));
    const sparse = Buffer.alloc(end - start);
    const frames: number[] = [];
    for await (const part of decodeSparse(readManifestSparse(manifest, env.cas, start, end))) {
      if ('data' in part) {
        part.data.copy(sparse, part.offset);
        frames.push(part.offset);
      }
    }
    assert.ok(sparse.equals(bytes.subarray(start, end)));
    assert.ok(!frames.some((o) => o + start >= CHUNK_SIZE && o + start < 2 * CHUNK_SIZE), 'the zero chunk is not sent');

    // The third chunk is lost from the store: a download that stops after the first never reads it, yet the read
    // ahead started it, and its failure must not surface as an unhandled rejection.
    await env.cas.delete(manifest.entries.find((e) => e.index === 2)!.ref);
    for (const read of [() => rawBytes(manifestDisk(manifest, env.cas), 0, 4 * CHUNK_SIZE), () => readManifestSparse(manifest, env.cas, 0, 4 * CHUNK_SIZE)]) {
      let n = 0;
      for await (const _ of read()) if (++n === 1) break;
      await assert.rejects((async () => { for await (const _ of read()); })(), /not found|missing|ENOENT/i);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(strays, []);
  } finally {
    process.off('unhandledRejection', onStray);
    await env.dispose();
  }
});
