/**
 * GET /v2/images/{id}/file with a byte range, as Glance answers it (its functional tests' cases, webob's parsing): one
 * `Range` gives a 206 with `Content-Range` and the whole image's `Content-MD5`; several ranges are a 400; a range that
 * cannot be parsed or starts past the end is a 416 in Glance's error shape; pre-Pike clients' `Content-Range` request
 * header is still read. An image stored in chunks (with a hole) is read from the chunks that hold the range.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startServer, type TestServer } from '../../support/server.ts';
import { keystoneToken } from '../../support/keystone.ts';
import { glanceCall } from '../../support/glance.ts';
import { CHUNK_SIZE } from '../../../src/domain/disk.ts';
import type { FsChunkStore } from '../../../src/blobs/fs-store.ts';

const LETTERS = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');

describe('Glance GET /file with a range', () => {
  let s: TestServer;
  let token: string;
  let letters: string;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    glanceCall(s.endpoint, token, method, path, body, Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json', headers);
  const upload = async (bytes: Buffer) => {
    const id = (await call('POST', '/v2/images', { name: 'ranged', disk_format: 'raw', container_format: 'bare' })).json.id as string;
    assert.equal((await call('PUT', `/v2/images/${id}/file`, bytes)).status, 204);
    return id;
  };
  const get = (id: string, headers: Record<string, string>) => call('GET', `/v2/images/${id}/file`, undefined, headers);

  before(async () => {
    s = await startServer({ postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    token = await keystoneToken(s.endpoint, await s.account('ranges'));
    letters = await upload(LETTERS);
  });
  after(async () => s?.stop());

  it('answers one range with 206, Content-Range, its length and the whole image\'s Content-MD5', async () => {
    const cases: [string, string, string][] = [
      ['bytes=3-10', 'DEFGHIJK', 'bytes 3-10/26'],
      ['bytes=20-', 'UVWXYZ', 'bytes 20-25/26'],
      ['bytes=20-100', 'UVWXYZ', 'bytes 20-25/26'],
      ['bytes=-5', 'VWXYZ', 'bytes 21-25/26'],
      ['bytes=-100', LETTERS.toString(), 'bytes 0-25/26'],
      ['bytes=0-', LETTERS.toString(), 'bytes 0-25/26'],
      ['BYTES = 25 - 25', 'Z', 'bytes 25-25/26'],
    ];
    for (const [range, body, contentRange] of cases) {
      const res = await get(letters, { range });
      assert.equal(res.status, 206, range);
      assert.equal(res.bytes.toString(), body, range);
      assert.equal(res.headers.get('content-range'), contentRange, range);
      assert.equal(res.headers.get('content-length'), String(body.length), range);
      assert.equal(res.headers.get('content-md5'), md5(LETTERS), range);
    }
    const whole = await get(letters, {});
    assert.deepEqual([whole.status, whole.bytes.toString(), whole.headers.get('content-range')], [200, LETTERS.toString(), null]);
  });

  it('refuses several ranges with 400, and unparseable or past-the-end ranges with 416 in Glance\'s error shape', async () => {
    const several = await get(letters, { range: 'bytes=0-1,3-4' });
    assert.equal(several.status, 400);
    assert.match(several.json.message, /multiple ranges are not supported/);
    const cases: [string, string][] = [
      ['bytes=10-5', 'Invalid Range header.'],
      ['items=0-5', 'Invalid Range header.'],
      ['bytes=-', 'Invalid Range header.'],
      ['bytes=26-', 'Invalid start position in Range header. Start position MUST be in the inclusive range [0, 25].'],
      ['bytes=30-40', 'Invalid start position in Range header. Start position MUST be in the inclusive range [0, 25].'],
    ];
    for (const [range, message] of cases) {
      const res = await get(letters, { range });
      assert.equal(res.status, 416, range);
      assert.deepEqual(res.json, { message, code: '416 Requested Range Not Satisfiable', title: 'Requested Range Not Satisfiable' }, range);
    }
  });

  it('still reads a Content-Range request header, as Glance does for clients written before Pike', async () => {
    let joined = '';
    for (let x = 0; x < LETTERS.length; x++) {
      const res = await get(letters, { 'content-range': `bytes ${x}-${x}/${LETTERS.length}` });
      assert.equal(res.status, 206);
      joined += res.bytes.toString();
    }
    assert.equal(joined, LETTERS.toString());
    const cases: [string, RegExp][] = [
      ['bytes 3-30/26', /^Invalid Content-Range header\.$/],
      ['bytes 5-3/26', /^Invalid Content-Range header\.$/],
      ['bytes */26', /^Invalid Content-Range header\.$/],
      ['bytes 3-30/*', /^Invalid stop position in Content-Range header/],
      ['bytes 26-27/40', /^Invalid start position in Content-Range header/],
      ['bytes 20-29/40', /^Invalid stop position in Content-Range header/],
    ];
    for (const [contentRange, message] of cases) {
      const res = await get(letters, { 'content-range': contentRange });
      assert.equal(res.status, 416, contentRange);
      assert.match(res.json.message, message, contentRange);
    }
    const both = await get(letters, { range: 'bytes=0-1', 'content-range': 'bytes 5-6/26' });
    assert.equal(both.bytes.toString(), 'AB', 'Range wins over Content-Range');
  });

  it('reads a range of an image stored in chunks from the chunks that hold it, holes as zeros', async () => {
    const bytes = crypto.randomBytes(2 * CHUNK_SIZE + 12345);
    bytes.fill(0, CHUNK_SIZE - 100, CHUNK_SIZE + CHUNK_SIZE / 2); // zeros across a chunk boundary
    const id = await upload(bytes);
    const spans: [number, number][] = [
      [CHUNK_SIZE - 10, CHUNK_SIZE + 10],
      [CHUNK_SIZE + 100, CHUNK_SIZE + 200],
      [CHUNK_SIZE - 200, 2 * CHUNK_SIZE + 7],
      [2 * CHUNK_SIZE + 12000, bytes.length - 1],
      [0, bytes.length - 1],
    ];
    for (const [first, last] of spans) {
      const res = await get(id, { range: `bytes=${first}-${last}` });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), `bytes ${first}-${last}/${bytes.length}`);
      assert.ok(res.bytes.equals(bytes.subarray(first, last + 1)), `bytes ${first}-${last}`);
    }
  });

  it('reads the chunks into the data plane\'s reused buffers, with O_DIRECT where the store writes that way', async () => {
    const bytes = crypto.randomBytes(3 * CHUNK_SIZE);
    const id = await upload(bytes);
    const { dataPlane } = s.app.services;
    const store = dataPlane.store(s.app.services.regions.all[0].id) as FsChunkStore;
    const directBefore = store.directReads;
    const idleBefore = dataPlane.buffers.idle;
    const whole = await get(id, {});
    assert.deepEqual([whole.status, whole.headers.get('content-length'), whole.headers.get('content-md5')], [200, String(bytes.length), md5(bytes)]);
    assert.ok(whole.bytes.equals(bytes));
    if (store.directWrites > 0) assert.equal(store.directReads - directBefore, 3, 'each chunk read once, with O_DIRECT');
    assert.ok(idleBefore > 0 && dataPlane.buffers.idle >= idleBefore, 'the read buffers (taken from the idle ones) went back to the pool');
    const head = await fetch(`${s.endpoint}/image/v2/images/${id}/file`, { method: 'HEAD', headers: { 'x-auth-token': token } });
    assert.deepEqual([head.status, head.headers.get('content-length'), (await head.arrayBuffer()).byteLength], [200, String(bytes.length), 0]);

    // Clients that hang up mid-body end their responses only: the next download is whole.
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(`${s.endpoint}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': token } }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
      });
    }
    const again = await get(id, {});
    assert.ok(again.status === 200 && again.bytes.equals(bytes), 'a whole download after the aborted ones');
  });
});
