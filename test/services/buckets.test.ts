/**
 * Object buckets: the same contract on the folder backend and on S3 (s3rver always, Ceph RGW when
 * configured), key safety, and links planted inside a bucket folder never being followed.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsObjectStore } from '../../src/services/buckets/fs-objects.ts';
import { S3ObjectStore } from '../../src/services/buckets/s3-objects.ts';
import type { ObjectStore } from '../../src/services/buckets/object-store.ts';
import { checkBucketName, keyProblem } from '../../src/services/buckets/names.ts';
import { emptyAndDeleteBucket, s3Backends, type TestS3 } from '../support/s3.ts';
import { waitFor } from '../support/wait.ts';
import { ChunkBufferPool } from '../../src/formats/buffer-pool.ts';
import { Readable } from 'node:stream';
import { decodeSparse, expandSparse, sparseFrameHeader, sparseHeader, writeSparseFile, type SparsePart } from '../../src/formats/sparse-body.ts';
import { requires } from '../support/requires.ts';
import { execFileSync } from 'node:child_process';
import { cachedBytes } from '../../src/formats/page-cache.ts';
import { alignedBuffer } from '../../src/formats/aligned-memory.ts';

async function* chunks(...parts: (string | Buffer)[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p;
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of s) out.push(Buffer.from(b as Buffer));
  return Buffer.concat(out);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
}

test('bucket names: 3-63 lower-case letters, digits and hyphens', () => {
  for (const ok of ['abc', 'my-bucket-1', 'a'.repeat(63), '0images']) checkBucketName(ok);
  for (const bad of ['ab', 'a'.repeat(64), 'Upper', 'under_score', '-lead', 'trail-', 'dot.ted', '']) {
    assert.throws(() => checkBucketName(bad), { code: 'InvalidBucketName' }, bad);
  }
});

test('object keys can never escape their bucket', () => {
  for (const ok of ['disk.qcow2', 'a/b/c.vhd', 'with space', 'ünïcode/ok', '..hidden', 'a..b']) assert.equal(keyProblem(ok), undefined, ok);
  const bad = ['', '/etc/passwd', '../x', 'a/../../x', 'a/./b', './a', 'a//b', 'a/', 'a\\b', 'nul\u0000byte', 'new\nline', 'a/..', 'x'.repeat(1024), 'y'.repeat(256)];
  for (const key of bad) assert.ok(keyProblem(key), JSON.stringify(key));
});

interface Backend {
  name: string;
  skip?: string;
  open(): Promise<{ store: ObjectStore; bucket: string; dispose(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'folder',
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-buckets-'));
      const store = new FsObjectStore(path.join(dir, 'buckets'), path.join(dir, 'tmp'), new ChunkBufferPool());
      await store.createBucket('test-bucket');
      return { store, bucket: 'test-bucket', dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  },
  ...s3Backends().map((b): Backend => ({
    name: b.name,
    skip: b.skip,
    async open() {
      const s3: TestS3 = await b.open();
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-buckets-s3-'));
      const store = new S3ObjectStore(s3.store.client, tmp);
      const bucket = 'ih-obj-' + crypto.randomBytes(4).toString('hex');
      await store.createBucket(bucket);
      return {
        store,
        bucket,
        async dispose() {
          await emptyAndDeleteBucket(s3.store.client, bucket);
          await s3.dispose();
          fs.rmSync(tmp, { recursive: true, force: true });
        },
      };
    },
  })),
];

for (const backend of backends) {
  describe(`object store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let store: ObjectStore;
    let bucket: string;
    let dispose: () => Promise<void>;
    before(async () => ({ store, bucket, dispose } = await backend.open()));
    after(() => dispose?.());

    test('put, head, get and random access return the bytes written', async () => {
      const data = crypto.randomBytes(3 * 1024 * 1024 + 17);
      const { size } = await store.put(bucket, 'dir/sub/disk.raw', chunks(data.subarray(0, 1000), data.subarray(1000)));
      assert.equal(size, data.length);
      assert.equal((await store.head(bucket, 'dir/sub/disk.raw'))?.size, data.length);
      const got = await store.get(bucket, 'dir/sub/disk.raw');
      assert.equal(got.size, data.length);
      assert.ok((await readAll(got.body)).equals(data));
      const src = await store.openSource(bucket, 'dir/sub/disk.raw');
      try {
        const buf = Buffer.alloc(100);
        assert.equal(await src.read(buf, 0, 100, 2_000_000), 100);
        assert.ok(buf.equals(data.subarray(2_000_000, 2_000_100)));
      } finally {
        await src.close();
      }
    });

    test('an object with holes: a source that knows its data extents, and a sparse download without the zeros', { skip: requires('xfs_io') }, async () => {
      const MiB = 1 << 20;
      const size = 24 * MiB + 512;
      const data = crypto.randomBytes(MiB + 3);
      const sparse = Buffer.concat([sparseHeader(size), sparseFrameHeader(9 * MiB + 5, data.length), data]);
      const body = () => Readable.from([sparse]);
      // As the transfer route hands over an upload in a sparse body: the folder keeps its holes, S3 gets the bytes.
      await store.put(bucket, 'holes.raw', { writeFile: (p: string, staging) => writeSparseFile(body(), p, staging), stream: () => expandSparse(body()) });
      const expected = Buffer.alloc(size);
      data.copy(expected, 9 * MiB + 5);
      const src = await store.openSource(bucket, 'holes.raw');
      try {
        assert.ok(src.dataExtents, 'the source knows where the data is');
        const held = src.dataExtents.reduce((n, [a, b]) => n + b - a, 0);
        assert.ok(held >= data.length && held <= data.length + 2 * MiB, `${held} bytes of data extents`);
        assert.ok(src.dataExtents.every(([a, b]) => a <= 9 * MiB + 5 + data.length && b >= 9 * MiB + 5));
        const got = Buffer.alloc(size);
        assert.equal(await src.read(got, 0, size, 0), size);
        assert.ok(got.equals(expected));
      } finally {
        await src.close();
      }
      const down = await store.getSparse(bucket, 'holes.raw');
      const parts: SparsePart[] = [];
      for await (const part of decodeSparse(down.body)) parts.push(part);
      assert.deepEqual(parts[0], { size });
      const rebuilt = Buffer.alloc(size);
      let carried = 0;
      for (const part of parts.slice(1) as { offset: number; data: Buffer }[]) {
        part.data.copy(rebuilt, part.offset);
        carried += part.data.length;
      }
      assert.ok(rebuilt.equals(expected));
      assert.ok(carried <= data.length + 2 * 64 * 1024, `${carried} bytes carried`);
    });

    test('a put replaces the object; a file producer writes itself', async () => {
      await store.put(bucket, 'replace.txt', chunks('first version'));
      await store.put(bucket, 'replace.txt', { writeFile: async (p: string) => fs.writeFileSync(p, 'second'), stream: () => chunks('second') });
      assert.equal((await readAll((await store.get(bucket, 'replace.txt')).body)).toString(), 'second');
    });

    test('list is sorted and honours prefix, startAfter and max', async () => {
      for (const k of ['list/b', 'list/a', 'list/c/d', 'other']) await store.put(bucket, k, chunks(k));
      const all = await store.list(bucket, { prefix: 'list/' });
      assert.deepEqual(all.objects.map((o) => o.key), ['list/a', 'list/b', 'list/c/d']);
      assert.equal(all.objects[0].size, 6);
      const page = await store.list(bucket, { prefix: 'list/', startAfter: 'list/a', max: 1 });
      assert.deepEqual(page.objects.map((o) => o.key), ['list/b']);
      assert.equal(page.truncated, true);
    });

    test('an object keeps its version until it is written again; openSource reads the version it names', async () => {
      await store.put(bucket, 'version.raw', chunks(crypto.randomBytes(4096)));
      const first = await store.version(bucket, 'version.raw');
      assert.equal((await store.version(bucket, 'version.raw')).id, first.id);
      const src = await store.openSource(bucket, 'version.raw');
      await src.close();
      assert.equal(src.version.id, first.id);
      await waitFor(async () => (await store.version(bucket, 'version.raw')).settled, { what: 'the object to settle', intervalMs: 50 });
      await store.put(bucket, 'version.raw', chunks(crypto.randomBytes(4096)));
      assert.notEqual((await store.version(bucket, 'version.raw')).id, first.id, 'same size, new bytes: a new version');
      await store.put(bucket, 'other.raw', chunks(crypto.randomBytes(4096)));
      assert.notEqual((await store.version(bucket, 'other.raw')).id, first.id);
    });

    test('missing objects and buckets answer NoSuchKey / NoSuchBucket', async () => {
      assert.equal(await store.head(bucket, 'nope'), undefined);
      assert.equal(await codeOf(store.get(bucket, 'nope')), 'NoSuchKey');
      assert.equal(await codeOf(store.openSource(bucket, 'nope')), 'NoSuchKey');
      assert.equal(await codeOf(store.version(bucket, 'nope')), 'NoSuchKey');
      assert.equal(await codeOf(store.list('no-such-bucket-' + crypto.randomBytes(3).toString('hex'))), 'NoSuchBucket');
      await store.put(bucket, 'gone', chunks('x'));
      await store.delete(bucket, 'gone');
      assert.equal(await store.head(bucket, 'gone'), undefined);
      assert.equal(await codeOf(store.delete(bucket, 'gone')), 'NoSuchKey');
    });

    test('a failing body leaves no object under the key', async () => {
      async function* broken(): AsyncIterable<Uint8Array> {
        yield crypto.randomBytes(1024 * 1024);
        throw new Error('source died');
      }
      await assert.rejects(store.put(bucket, 'partial.bin', broken()));
      assert.equal(await store.head(bucket, 'partial.bin'), undefined);
    });

    test('creating a bucket whose storage exists is refused', async () => {
      assert.equal(await codeOf(store.createBucket(bucket)), 'BucketAlreadyExists');
    });
  });
}

describe('folder backend: links inside a bucket are never followed', () => {
  let dir: string;
  let store: FsObjectStore;
  let secret: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-buckets-link-'));
    store = new FsObjectStore(path.join(dir, 'buckets'), path.join(dir, 'tmp'), new ChunkBufferPool());
    await store.createBucket('victim');
    secret = path.join(dir, 'secret.txt');
    fs.writeFileSync(secret, 'host secret');
    const root = path.join(dir, 'buckets', 'victim');
    fs.symlinkSync(secret, path.join(root, 'link-to-file'));
    fs.symlinkSync(dir, path.join(root, 'link-to-dir'));
    fs.mkdirSync(path.join(root, 'real'));
    fs.symlinkSync(secret, path.join(root, 'real', 'nested-link'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a link to a file reads as a missing object', async () => {
    assert.equal(await store.head('victim', 'link-to-file'), undefined);
    assert.equal(await codeOf(store.get('victim', 'link-to-file')), 'NoSuchKey');
    assert.equal(await codeOf(store.openSource('victim', 'link-to-file')), 'NoSuchKey');
    assert.equal(await codeOf(store.openSource('victim', 'real/nested-link')), 'NoSuchKey');
  });

  test('a link to a folder is not walked into', async () => {
    assert.equal(await codeOf(store.get('victim', 'link-to-dir/secret.txt')), 'NoSuchKey');
    assert.equal(await store.head('victim', 'link-to-dir/secret.txt'), undefined);
    const { objects } = await store.list('victim');
    assert.deepEqual(objects.map((o) => o.key), [], 'links are not listed');
  });

  test('a put through a linked folder is refused and writes nothing outside', async () => {
    assert.equal(await codeOf(store.put('victim', 'link-to-dir/planted.txt', chunks('x'))), 'InvalidObjectName');
    assert.equal(fs.existsSync(path.join(dir, 'planted.txt')), false);
  });

  test('a put over a link replaces the link, not its target', async () => {
    await store.put('victim', 'link-to-file', chunks('object bytes'));
    assert.equal(fs.readFileSync(secret, 'utf8'), 'host secret');
    assert.equal((await readAll((await store.get('victim', 'link-to-file')).body)).toString(), 'object bytes');
  });

  test('a bucket folder that is itself a link is no bucket', async () => {
    fs.symlinkSync(dir, path.join(dir, 'buckets', 'linked'));
    assert.equal(await codeOf(store.get('linked', 'secret.txt')), 'NoSuchBucket');
    assert.equal(await codeOf(store.list('linked')), 'NoSuchBucket');
  });
});

test('folder backend: an object the page cache does not hold (a put writes direct) is imported with O_DIRECT reads, and left out of the cache', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-buckets-direct-'));
  try {
    const store = new FsObjectStore(path.join(dir, 'buckets'), path.join(dir, 'tmp'), new ChunkBufferPool());
    await store.createBucket('b');
    const data = crypto.randomBytes(64 * 1024 * 1024);
    await store.put('b', 'disk.raw', Readable.from([data]));
    const file = path.join(dir, 'buckets', 'b', 'disk.raw');
    const fh = await fs.promises.open(file, 'r');
    const cached = async () => (await cachedBytes(fh))!;
    try {
      if ((await cachedBytes(fh)) === undefined) return t.skip('fincore (util-linux) is not installed');
      execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
      assert.equal(await cached(), 0, 'the put wrote around the page cache');
      const readAllChunks = async () => {
        const src = await store.openSource('b', 'disk.raw');
        const chunk = alignedBuffer(4 * 1024 * 1024);
        try {
          for (let at = 0; at < src.size; at += chunk.length) {
            assert.equal(await src.read(chunk, 0, chunk.length, at), chunk.length);
            assert.ok(chunk.equals(data.subarray(at, at + chunk.length)));
          }
        } finally {
          await src.close();
        }
      };
      await readAllChunks();
      assert.equal(await cached(), 0, 'read direct');
      fs.readFileSync(file); // now the page cache holds it all, and reads go through it
      assert.equal(await cached(), data.length);
      await readAllChunks();
    } finally {
      await fh.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
