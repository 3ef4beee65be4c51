/** FsChunkStore behaviour beyond the shared contract: layout, crash leftovers, both durability modes. */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { FsChunkStore } from '../../src/blobs/fs-store.ts';
import { refHex, sha256Ref } from '../../src/blobs/refs.ts';
import { ChunkCorruptError } from '../../src/blobs/errors.ts';
import { alignedBuffer } from '../../src/formats/aligned-memory.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function chunk(size = 70_000) {
  const data = crypto.randomBytes(size);
  return { ref: sha256Ref(data), data };
}

describe('FsChunkStore', () => {
  it('stores each chunk at root/<2 hex>/<64 hex> and leaves no temp files', async () => {
    const store = new FsChunkStore(path.join(dir, 'cas'));
    const c = chunk();
    await store.put(c.ref, c.data);
    await store.flush();
    const hex = refHex(c.ref);
    const file = path.join(dir, 'cas', hex.slice(0, 2), hex);
    assert.ok(fs.readFileSync(file).equals(c.data));
    assert.deepEqual(fs.readdirSync(path.dirname(file)), [hex]);
  });

  it('a second instance over the same root sees flushed chunks', async () => {
    const root = path.join(dir, 'cas');
    const a = new FsChunkStore(root);
    const c = chunk();
    await a.put(c.ref, c.data);
    await a.close();
    const b = new FsChunkStore(root);
    assert.ok((await b.get(c.ref)).equals(c.data));
  });

  it('ignores temp files and foreign names when listing', async () => {
    const root = path.join(dir, 'cas');
    const store = new FsChunkStore(root);
    const c = chunk();
    await store.put(c.ref, c.data);
    const sub = path.join(root, refHex(c.ref).slice(0, 2));
    fs.writeFileSync(path.join(sub, '.tmp-deadbeef0000'), 'partial');
    fs.writeFileSync(path.join(sub, 'README'), 'x');
    fs.mkdirSync(path.join(root, 'zz'));
    fs.writeFileSync(path.join(root, 'zz', 'a'.repeat(64)), 'x');
    const listed: string[] = [];
    for await (const r of store.list()) listed.push(r);
    assert.deepEqual(listed, [c.ref]);
  });

  it('replaces a truncated chunk file (a crash before fsync) on the next put, and get refuses an empty one', async () => {
    const root = path.join(dir, 'cas');
    const store = new FsChunkStore(root);
    const c = chunk();
    const hex = refHex(c.ref);
    fs.mkdirSync(path.join(root, hex.slice(0, 2)), { recursive: true });
    fs.writeFileSync(path.join(root, hex.slice(0, 2), hex), '');
    await assert.rejects(store.get(c.ref), ChunkCorruptError);
    await store.put(c.ref, c.data);
    await store.flush();
    assert.ok((await store.get(c.ref)).equals(c.data));
  });

  for (const durability of ['background', 'batched', 'eager'] as const) {
    it(`stores and flushes in ${durability} durability mode`, async () => {
      const root = path.join(dir, 'cas');
      const store = new FsChunkStore(root, { durability });
      const chunks = Array.from({ length: 6 }, () => chunk());
      await Promise.all(chunks.map((c) => store.put(c.ref, c.data)));
      await store.put(chunks[0].ref, chunks[0].data);
      await store.flush();
      for (const c of chunks) assert.ok((await store.get(c.ref)).equals(c.data));
      assert.equal((await fs.promises.readdir(root)).length, new Set(chunks.map((c) => refHex(c.ref).slice(0, 2))).size);
    });
  }

  it('rewrites a same-size chunk file whose bytes are wrong', async () => {
    const root = path.join(dir, 'cas');
    const store = new FsChunkStore(root);
    const c = chunk();
    const hex = refHex(c.ref);
    fs.mkdirSync(path.join(root, hex.slice(0, 2)), { recursive: true });
    fs.writeFileSync(path.join(root, hex.slice(0, 2), hex), Buffer.alloc(c.data.length));
    await store.put(c.ref, c.data);
    await store.flush();
    assert.ok((await store.get(c.ref)).equals(c.data));
  });

  it('flush skips a chunk deleted before it was synced (GC collected it) and syncs the rest', async () => {
    const root = path.join(dir, 'cas');
    const store = new FsChunkStore(root);
    const [gone, kept] = [chunk(), chunk()];
    await store.put(gone.ref, gone.data);
    await store.put(kept.ref, kept.data);
    const hex = refHex(gone.ref);
    fs.rmSync(path.join(root, hex.slice(0, 2), hex)); // as another store instance's delete would
    await store.flush();
    assert.equal(await store.has(gone.ref), false);
    assert.ok((await store.get(kept.ref)).equals(kept.data));
  });

  it('writes page-aligned chunks with O_DIRECT where the filesystem takes it, and everything else buffered', async (t) => {
    const store = new FsChunkStore(path.join(dir, 'cas'));
    const aligned = crypto.randomFillSync(alignedBuffer(CHUNK_SIZE));
    const plain = chunk(CHUNK_SIZE);
    const short = crypto.randomFillSync(alignedBuffer(70_000));
    for (const data of [aligned, plain.data, short]) await store.put(sha256Ref(data), data);
    await store.flush();
    for (const data of [aligned, plain.data, short]) assert.ok((await store.get(sha256Ref(data))).equals(data));
    if (!directIoWorks(dir)) return t.skip(`${dir} does not take O_DIRECT`);
    assert.equal(store.directWrites, 1, 'only the aligned full chunk goes direct');
  });

  it('reads a chunk with O_DIRECT into a caller\'s aligned buffer, full or short, and refuses a missing or empty one', async (t) => {
    const store = new FsChunkStore(path.join(dir, 'cas'));
    const full = crypto.randomFillSync(alignedBuffer(CHUNK_SIZE));
    const short = chunk(70_000).data; // not a whole number of blocks: the last direct read ends at the file's end
    for (const data of [full, short]) await store.put(sha256Ref(data), data);
    await store.flush();
    for (const data of [full, short]) {
      const into = alignedBuffer(CHUNK_SIZE).fill(0xee);
      const got = await store.get(sha256Ref(data), into);
      assert.ok(got.equals(data));
      assert.equal(got.buffer, into.buffer, 'a view of the caller\'s buffer');
    }
    await assert.rejects(store.get(sha256Ref(Buffer.from('absent')), alignedBuffer(CHUNK_SIZE)), /not found|no chunk|ChunkNotFound/i);
    const empty = sha256Ref(Buffer.from('empty'));
    fs.mkdirSync(path.join(dir, 'cas', refHex(empty).slice(0, 2)), { recursive: true });
    fs.writeFileSync(path.join(dir, 'cas', refHex(empty).slice(0, 2), refHex(empty)), '');
    await assert.rejects(store.get(empty, alignedBuffer(CHUNK_SIZE)), ChunkCorruptError);
    if (!directIoWorks(dir)) return t.skip(`${dir} does not take O_DIRECT`);
    assert.equal(store.directReads, 2, 'both chunks were read direct');
  });

  it('falls back to buffered writes on a filesystem that refuses O_DIRECT (ramfs)', async (t) => {
    const root = path.join(dir, 'ramfs');
    fs.mkdirSync(root);
    try {
      execFileSync('mount', ['-t', 'ramfs', 'ramfs', root], { stdio: 'ignore' });
    } catch {
      return t.skip('cannot mount a ramfs (needs root): the O_DIRECT fallback is not exercised');
    }
    try {
      assert.equal(directIoWorks(root), false, 'ramfs refuses O_DIRECT');
      const store = new FsChunkStore(root);
      const chunks = [1, 2].map(() => crypto.randomFillSync(alignedBuffer(CHUNK_SIZE)));
      for (const data of chunks) await store.put(sha256Ref(data), data);
      await store.flush();
      for (const data of chunks) assert.ok((await store.get(sha256Ref(data))).equals(data));
      for (const data of chunks) assert.ok((await new FsChunkStore(root).get(sha256Ref(data), alignedBuffer(CHUNK_SIZE))).equals(data), 'reads fall back too');
      assert.equal(store.directWrites, 0);
      assert.deepEqual(fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d))).filter((f) => f.startsWith('.tmp')), []);
    } finally {
      execFileSync('umount', [root]);
    }
  });
});

/** Whether `dir`'s filesystem opens files with O_DIRECT. */
function directIoWorks(dir: string): boolean {
  const probe = path.join(dir, `.direct-probe-${process.pid}`);
  try {
    fs.closeSync(fs.openSync(probe, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { force: true });
  }
}
