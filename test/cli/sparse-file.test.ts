import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { encodeSparse, saveSparse } from '../../src/cli/sparse-file.ts';
import { dataExtents } from '../../src/formats/data-extents.ts';
import { createBucket, getObject, putObject } from '../../src/cli/commands/transfer/client.ts';
import { ApiCallError, dataRequest } from '../../src/cli/api.ts';
import { SPARSE_CONTENT_TYPE, sparseFrameHeader, sparseHeader } from '../../src/formats/sparse-body.ts';
import { startServer } from '../support/server.ts';
import { requires } from '../support/requires.ts';

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

test('bucket put of a file with holes sends its data only and the object keeps the holes, bucket get brings them back the same way; plain files and bad bodies', { skip: requires('xfs_io') }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-sparse-put-'));
  const server = await startServer();
  try {
    const account = await server.account('sparse');
    const cfg = { endpoint: server.endpoint, region: 'cn-hangzhou', accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret };
    await createBucket(cfg, 'sparse-put');
    const file = path.join(dir, 'disk.raw');
    const fd = fs.openSync(file, 'w');
    fs.ftruncateSync(fd, 256 * MIB + 12345); // an odd length: the tail is a hole too
    const data = crypto.randomBytes(5 * MIB + 17);
    fs.writeSync(fd, data, 0, data.length, 64 * MIB + 4096);
    fs.writeSync(fd, Buffer.alloc(4 * MIB), 0, 4 * MIB, 200 * MIB); // written zeros inside a data extent
    fs.closeSync(fd);
    const extents = await dataExtents(file);
    assert.ok(extents && extents.length >= 1, 'xfs_io reports the data extents');
    let sent = 0;
    const body: Buffer[] = [];
    for await (const b of encodeSparse(file, extents, (n) => { sent += n; })) body.push(b);
    assert.equal(sent, fs.statSync(file).size, 'progress counts holes as done');
    assert.ok(Buffer.concat(body).length < data.length + MIB, 'the body carries the data, not the holes or the written zeros');

    assert.equal((await putObject(cfg, 'sparse-put', 'disk.raw', file)).Size, fs.statSync(file).size);
    const stored = path.join(server.dataDir, 'buckets', 'sparse-put', 'disk.raw');
    assert.ok(fs.readFileSync(stored).equals(fs.readFileSync(file)), 'the object holds the same bytes');
    assert.ok(fs.statSync(stored).blocks * 512 <= data.length + MIB, `object allocates ${fs.statSync(stored).blocks * 512} bytes`);

    // Back down: asked for, the object comes as a sparse body of its data; getObject saves it with its holes.
    const sparse = await dataRequest(cfg, 'GET', '/buckets/sparse-put/object', { Key: 'disk.raw' }, { headers: { accept: SPARSE_CONTENT_TYPE } });
    assert.equal(sparse.headers.get('content-type'), SPARSE_CONTENT_TYPE);
    assert.ok((await sparse.arrayBuffer()).byteLength < data.length + MIB, 'the download carries the data, not the holes');
    const whole = await dataRequest(cfg, 'GET', '/buckets/sparse-put/object', { Key: 'disk.raw' });
    assert.equal(whole.headers.get('content-type'), 'application/octet-stream');
    assert.equal(Number(whole.headers.get('content-length')), fs.statSync(file).size);
    await whole.body?.cancel();
    const back = path.join(dir, 'back.raw');
    assert.equal(await getObject(cfg, 'sparse-put', 'disk.raw', back), fs.statSync(file).size);
    assert.ok(fs.readFileSync(back).equals(fs.readFileSync(file)), 'the download holds the same bytes');
    assert.ok(fs.statSync(back).blocks * 512 <= data.length + MIB, `download allocates ${fs.statSync(back).blocks * 512} bytes`);

    const plain = path.join(dir, 'plain.bin');
    fs.writeFileSync(plain, crypto.randomBytes(3 * MIB));
    await putObject(cfg, 'sparse-put', 'plain.bin', plain);
    assert.ok(fs.readFileSync(path.join(server.dataDir, 'buckets', 'sparse-put', 'plain.bin')).equals(fs.readFileSync(plain)));

    // A sparse body whose frame runs past its size is refused and leaves no object.
    const bad = Buffer.concat([sparseHeader(10), sparseFrameHeader(8, 4), Buffer.from('abcd')]);
    const res = await dataRequest(cfg, 'PUT', '/buckets/sparse-put/object', { Key: 'bad.raw' }, { body: (async function* () { yield bad; })(), headers: { 'content-type': SPARSE_CONTENT_TYPE } })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(res instanceof ApiCallError && res.status === 400, String(res));
    assert.equal(fs.existsSync(path.join(server.dataDir, 'buckets', 'sparse-put', 'bad.raw')), false);
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
