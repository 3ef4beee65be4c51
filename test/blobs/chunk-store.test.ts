/** One ChunkStore contract, run against FsChunkStore, S3ChunkStore on s3rver, and on Ceph RGW when configured. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import type { ChunkStore } from '../../src/blobs/types.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { FsChunkStore } from '../../src/blobs/fs-store.ts';
import { sha256Ref } from '../../src/blobs/refs.ts';
import { ChunkNotFoundError } from '../../src/blobs/errors.ts';
import { s3Backends } from '../support/s3.ts';

interface Opened {
  store: ChunkStore;
  dispose(): Promise<void>;
}

const backends: { name: string; skip?: string; open(): Promise<Opened> }[] = [
  {
    name: 'fs',
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-'));
      const store = new FsChunkStore(path.join(dir, 'cas'));
      return { store, dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  },
  ...s3Backends().map((b) => ({ name: `s3 on ${b.name}`, skip: b.skip, open: () => b.open({ prefix: 'cn-test/' }) })),
];

function chunk(size: number): { ref: string; data: Buffer } {
  const data = crypto.randomBytes(size);
  return { ref: sha256Ref(data), data };
}

for (const backend of backends) {
  describe(`ChunkStore contract: ${backend.name}`, { skip: backend.skip }, () => {
    let opened: Opened;
    let store: ChunkStore;
    before(async () => {
      const t0 = performance.now();
      opened = await backend.open();
      store = opened.store;
      if (backend.name.includes('ceph')) console.log(`# ${backend.name}: bucket ready in ${Math.round(performance.now() - t0)} ms`);
    });
    after(async () => {
      await store.close();
      await opened.dispose();
    });

    it('round-trips a full 4 MiB chunk and a short one', async () => {
      const full = chunk(CHUNK_SIZE);
      const short = chunk(1000);
      await store.put(full.ref, full.data);
      await store.put(short.ref, short.data);
      await store.flush();
      assert.ok((await store.get(full.ref)).equals(full.data));
      assert.ok((await store.get(short.ref)).equals(short.data));
      assert.equal(await store.has(full.ref), true);
    });

    it('reports a missing chunk', async () => {
      const { ref } = chunk(10);
      assert.equal(await store.has(ref), false);
      await assert.rejects(store.get(ref), ChunkNotFoundError);
    });

    it('put is idempotent and delete is idempotent', async () => {
      const c = chunk(4096);
      await store.put(c.ref, c.data);
      await store.put(c.ref, c.data);
      assert.ok((await store.get(c.ref)).equals(c.data));
      await store.delete(c.ref);
      await store.delete(c.ref);
      assert.equal(await store.has(c.ref), false);
      await assert.rejects(store.get(c.ref), ChunkNotFoundError);
    });

    it('lists exactly the stored refs', async () => {
      for await (const ref of store.list()) await store.delete(ref);
      const chunks = Array.from({ length: 12 }, (_, i) => chunk(1024 + i));
      await Promise.all(chunks.map((c) => store.put(c.ref, c.data)));
      await store.flush();
      const listed: string[] = [];
      for await (const ref of store.list()) listed.push(ref);
      assert.deepEqual(listed.sort(), chunks.map((c) => c.ref).sort());
      await store.delete(chunks[0].ref);
      const after: string[] = [];
      for await (const ref of store.list()) after.push(ref);
      assert.equal(after.length, 11);
      assert.ok(!after.includes(chunks[0].ref));
    });

    it('handles concurrent puts of distinct and identical chunks', async () => {
      const chunks = Array.from({ length: 16 }, () => chunk(256 * 1024));
      const twice = [...chunks, ...chunks.slice(0, 8)];
      await Promise.all(twice.map((c) => store.put(c.ref, c.data)));
      await store.flush();
      for (const c of chunks) assert.ok((await store.get(c.ref)).equals(c.data));
    });

    it('rejects refs that are not sha256 digests (they become paths and keys)', async () => {
      for (const bad of ['sha256:../../etc/passwd', 'md5:00', 'sha256:' + 'A'.repeat(64), 'sha256:' + '0'.repeat(63)]) {
        await assert.rejects(store.put(bad, Buffer.from('x')), TypeError);
        await assert.rejects(store.get(bad), TypeError);
      }
    });
  });
}
