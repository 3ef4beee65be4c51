import { describe, it, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsChunkStore } from '../../src/blobs/fs-store.ts';
import { storeBackends } from '../support/stores.ts';
import { decodeManifestBody, encodeManifestBody, manifestDisk, manifestEntry, patchManifest, zeroManifest } from '../../src/blobs/manifests.ts';
import { ChunkNotLiveError, ChunkCorruptError } from '../../src/blobs/errors.ts';
import { sha256Ref } from '../../src/blobs/refs.ts';
import type { Manifest } from '../../src/blobs/types.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { openBlobEnv, REGION, type BlobEnv } from './env.ts';

const ref = (i: number) => sha256Ref(Buffer.from(`c${i}`));
const M = 4 * 1024 * 1024;

describe('manifest body', () => {
  const m: Manifest = {
    virtualSize: 3 * M + 512,
    entries: [{ index: 0, ref: ref(1), zeroMap: '00000000000000f0' }, { index: 3, ref: ref(1), zeroMap: '0000000000000000' }],
  };

  it('round-trips in sparse form', () => {
    const body = encodeManifestBody(m);
    assert.deepEqual(JSON.parse(body), [[0, ref(1), '00000000000000f0'], [3, ref(1), '0000000000000000']]);
    assert.deepEqual(decodeManifestBody(m.virtualSize, body), m);
    assert.deepEqual(decodeManifestBody(0, '[]'), { virtualSize: 0, entries: [] });
  });

  it('rejects malformed bodies', () => {
    const bad = [
      '{}',
      `[[4, "${ref(1)}", "0000000000000000"]]`, // index past the end
      `[[1, "${ref(1)}", "0000000000000000"], [0, "${ref(2)}", "0000000000000000"]]`, // unsorted
      `[[0, "${ref(1)}", "0000000000000000"], [0, "${ref(2)}", "0000000000000000"]]`, // duplicate
      `[[0, "sha256:abc", "0000000000000000"]]`,
      `[[0, "${ref(1)}", "00"]]`,
      `[[0.5, "${ref(1)}", "0000000000000000"]]`,
    ];
    for (const body of bad) assert.throws(() => decodeManifestBody(m.virtualSize, body), /manifest/, body);
  });
});

for (const backend of storeBackends()) {
  describe(`ManifestRepo on ${backend.name}`, { skip: backend.skip }, () => {
    let env: BlobEnv;
    beforeEach(async () => {
      env = await openBlobEnv(backend);
    });
    afterEach(() => env.dispose());

    async function liveChunks(...refs: string[]) {
      const t = await env.index.touch(REGION, refs, new Map(refs.map((r) => [r, CHUNK_SIZE])));
      await env.index.markStored(REGION, t);
    }

    it('commit adds refs; holders go up and down; the last release drops the row and the refs', async () => {
      await liveChunks(ref(1), ref(2));
      const m: Manifest = {
        virtualSize: 3 * M,
        entries: [{ index: 0, ref: ref(1), zeroMap: '0000000000000000' }, { index: 1, ref: ref(2), zeroMap: '0000000000000000' }, { index: 2, ref: ref(1), zeroMap: '0000000000000000' }],
      };
      const id = await env.repo.commit(REGION, m);
      assert.match(id, /^mf-[0-9a-f]{24}$/);
      assert.equal((await env.row(ref(1)))?.refcount, 2);
      const loaded = await env.repo.load(id);
      assert.deepEqual(loaded?.manifest, m);
      assert.equal(loaded?.holders, 1);
      assert.equal(loaded?.region, REGION);
      assert.equal(await env.repo.hold(id), true);
      assert.equal(await env.repo.release(id), 1);
      assert.equal((await env.row(ref(1)))?.refcount, 2);
      assert.equal(await env.repo.release(id), 0);
      assert.equal(await env.repo.load(id), undefined);
      assert.equal((await env.row(ref(1)))?.refcount, 0);
      assert.equal((await env.row(ref(2)))?.refcount, 0);
      assert.equal(await env.repo.hold(id), false);
      assert.equal(await env.repo.release(id), 0, 'releasing a gone manifest is a no-op');
      assert.equal((await env.row(ref(1)))?.refcount, 0);
    });

    it('commits nothing when a chunk is not live', async () => {
      await liveChunks(ref(1));
      const m: Manifest = { virtualSize: 2 * M, entries: [{ index: 0, ref: ref(1), zeroMap: '0000000000000000' }, { index: 1, ref: ref(9), zeroMap: '0000000000000000' }] };
      await assert.rejects(env.repo.commit(REGION, m), ChunkNotLiveError);
      assert.equal((await env.row(ref(1)))?.refcount, 0);
      assert.equal((await env.meta.db.selectFrom('manifests').selectAll().execute()).length, 0);
    });

    it('refuses a chunk list that does not match the size', async () => {
      await assert.rejects(env.repo.commit(REGION, { virtualSize: M + 1, entries: [{ index: 2, ref: ref(1), zeroMap: '0000000000000000' }] }), /bad manifest entry/);
    });
  });
}

describe('manifestDisk', () => {
  it('reports zero masks and checks chunk lengths', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const store = new FsChunkStore(dir);
    const short = Buffer.alloc(1000, 7);
    const r = sha256Ref(short);
    await store.put(r, short);
    const disk = manifestDisk({ virtualSize: M + 1000, entries: [{ index: 1, ref: r, zeroMap: '0000000000000000' }] }, store);
    assert.equal(disk.chunkCount, 2);
    assert.equal(disk.zeroMask(0), null);
    assert.equal(disk.zeroMask(1), 0n);
    assert.equal(await disk.readChunk(0), null);
    assert.ok((await disk.readChunk(1))!.equals(short));
    assert.throws(() => disk.zeroMask(2), RangeError);
    const wrong = manifestDisk({ virtualSize: 2 * M, entries: [{ index: 1, ref: r, zeroMap: '0000000000000000' }] }, store);
    await assert.rejects(wrong.readChunk(1), ChunkCorruptError);
  });
});

describe('sparse manifests', () => {
  const T = 32 * 1024 ** 4; // 32 TiB: 8 M chunks, none of them materialised
  it('an empty disk of any size has no entries, and lookups and patches cost what the data costs', () => {
    const empty = zeroManifest(T);
    assert.deepEqual(empty.entries, []);
    assert.equal(encodeManifestBody(empty), '[]');
    assert.equal(manifestEntry(empty, 8 * 1024 * 1024 - 1), null);
    assert.throws(() => manifestEntry(empty, 8 * 1024 * 1024), RangeError);
    const e = (i: number) => ({ ref: ref(i), zeroMap: '0000000000000000' });
    const m = patchManifest(empty, new Map([[5_000_000, e(2)], [3, e(1)], [8 * 1024 * 1024 - 1, e(3)]]));
    assert.deepEqual(m.entries.map((x) => x.index), [3, 5_000_000, 8 * 1024 * 1024 - 1]);
    assert.equal(manifestEntry(m, 5_000_000)?.ref, ref(2));
    assert.equal(manifestEntry(m, 4), null);
    const zeroed = patchManifest(m, new Map([[3, null], [4, e(4)]]));
    assert.deepEqual(zeroed.entries.map((x) => [x.index, x.ref]), [[4, ref(4)], [5_000_000, ref(2)], [8 * 1024 * 1024 - 1, ref(3)]]);
    // Resizing keeps only the entries inside the new size.
    const shrunk = patchManifest(zeroed, new Map(), 5_000_000 * M);
    assert.deepEqual(shrunk.entries.map((x) => x.index), [4]);
    assert.deepEqual(manifestDisk(m, undefined as never).dataChunks(), [3, 5_000_000, 8 * 1024 * 1024 - 1]);
    assert.deepEqual(decodeManifestBody(T, encodeManifestBody(m)), m);
  });
});
