/** Glance's image cache: admin-only, queue → cached in the background, GET /file served from the node's copy, clearing. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, type TestServer } from '../../support/server.ts';
import { keystoneToken } from '../../support/keystone.ts';
import { glanceCall, startFileServer, type FileServer } from '../../support/glance.ts';
import { waitFor } from '../../support/wait.ts';
import { setAdmin } from '../../../src/services/identity/tokens.ts';

type Any = any;
const PATCH = 'application/openstack-images-v2.1-json-patch';

describe('Glance image cache', () => {
  const served = crypto.randomBytes(256 * 1024 + 5);
  let files: FileServer;
  let filesPort: number;
  let s: TestServer;
  let admin: string;
  let user: string;

  before(async () => {
    files = await startFileServer((req, res) => {
      if (req.url === '/disk.raw') res.writeHead(200, { 'content-length': served.length }).end(req.method === 'HEAD' ? undefined : served);
      else res.writeHead(404).end();
    });
    filesPort = files.port;
    s = await startServer({ env: { IMAGEHOUSE_IMPORT_ALLOWED_HOSTS: `127.0.0.1:${filesPort}` } });
    const root = await s.account('cache-admin');
    await setAdmin(s.app.services, root.accountId, true);
    admin = await keystoneToken(s.endpoint, root);
    user = await keystoneToken(s.endpoint, await s.account('cache-user'));
  });
  after(async () => {
    await s?.stop();
    files?.close();
  });

  const call = async (token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const type = Buffer.isBuffer(body) ? 'application/octet-stream' : Array.isArray(body) ? PATCH : 'application/json';
    return glanceCall(s.endpoint, token, method, path, body, type, headers);
  };
  const list = async () => (await call(admin, 'GET', '/v2/cache')).json as { cached_images: Any[]; queued_images: string[] };
  const cachedEntry = (id: string) => waitFor(async () => (await list()).cached_images.find((c) => c.image_id === id), { what: `${id} cached` });

  it('is for admins only, and only for active images that exist', async () => {
    assert.equal((await call(user, 'GET', '/v2/cache')).status, 403);
    assert.equal((await call(admin, 'PUT', '/v2/cache/m-doesnotexist0000000')).status, 404);
    const queued = (await call(admin, 'POST', '/v2/images', { name: 'q', disk_format: 'raw', container_format: 'bare' })).json;
    assert.equal((await call(admin, 'PUT', `/v2/cache/${queued.id}`)).status, 400);
    assert.equal((await call(admin, 'DELETE', '/v2/cache', undefined, { 'x-image-cache-clear-target': 'invalid' })).status, 400);
  });

  it('caches a queued image in the background and serves GET /file from the copy, even when its http location is gone', async () => {
    const img = (await call(admin, 'POST', '/v2/images', { name: 'c', disk_format: 'raw', container_format: 'bare' })).json;
    const loc = { url: `http://127.0.0.1:${filesPort}/disk.raw`, metadata: {} };
    assert.equal((await call(admin, 'PATCH', `/v2/images/${img.id}`, [{ op: 'add', path: '/locations/-', value: loc }])).status, 200);
    const fromLocation = await call(admin, 'GET', `/v2/images/${img.id}/file`, undefined, { range: 'bytes=1000-1999' });
    assert.deepEqual([fromLocation.status, fromLocation.headers.get('content-range')], [206, `bytes 1000-1999/${served.length}`]);
    assert.ok(fromLocation.bytes.equals(served.subarray(1000, 2000)), 'a range of the http location');
    assert.equal((await call(admin, 'PUT', `/v2/cache/${img.id}`)).status, 202);
    const entry = await cachedEntry(img.id);
    assert.deepEqual([entry.size, entry.hits], [served.length, 0]);
    assert.ok(!(await list()).queued_images.includes(img.id));
    await files.close();
    const file = await call(admin, 'GET', `/v2/images/${img.id}/file`);
    assert.equal(file.status, 200);
    assert.ok(file.bytes.equals(served), 'served from the cache: the location no longer answers');
    const part = await call(admin, 'GET', `/v2/images/${img.id}/file`, undefined, { range: `bytes=-7` });
    assert.deepEqual([part.status, part.headers.get('content-range')], [206, `bytes ${served.length - 7}-${served.length - 1}/${served.length}`]);
    assert.ok(part.bytes.equals(served.subarray(-7)), 'a range of the cached copy');
    assert.equal((await call(admin, 'GET', `/v2/images/${img.id}/file`, undefined, { range: `bytes=${served.length}-` })).status, 416);
    assert.equal((await cachedEntry(img.id)).hits, 2, 'the refused range is not a hit');
    assert.equal((await call(admin, 'DELETE', `/v2/cache/${img.id}`)).status, 204);
    assert.equal((await list()).cached_images.length, 0);
    assert.equal((await call(admin, 'GET', `/v2/images/${img.id}/file`)).status >= 400, true, 'not cached any more, and the location is gone');
  });

  it('drops the entry of a deleted image, and clears the queue and the cache by target', async () => {
    const up = async () => {
      const img = (await call(admin, 'POST', '/v2/images', { name: 'u', disk_format: 'raw', container_format: 'bare' })).json;
      assert.equal((await call(admin, 'PUT', `/v2/images/${img.id}/file`, crypto.randomBytes(4096))).status, 204);
      assert.equal((await call(admin, 'PUT', `/v2/cache/${img.id}`)).status, 202);
      await cachedEntry(img.id);
      return img.id as string;
    };
    const [a, b] = [await up(), await up()];
    assert.equal((await call(admin, 'DELETE', `/v2/images/${a}`)).status, 204);
    assert.deepEqual((await list()).cached_images.map((c) => c.image_id), [b]);
    assert.equal((await call(admin, 'DELETE', '/v2/cache', undefined, { 'x-image-cache-clear-target': 'queue' })).status, 204);
    assert.equal((await list()).cached_images.length, 1, 'clearing the queue leaves the cache');
    assert.equal((await call(admin, 'DELETE', '/v2/cache')).status, 204);
    assert.deepEqual(await list(), { cached_images: [], queued_images: [] });
  });
});
