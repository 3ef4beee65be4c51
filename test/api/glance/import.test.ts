/** Glance's interoperable import: stage + glance-direct, web-download with its SSRF guard, glance-download, image tasks. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, type TestServer } from '../../support/server.ts';
import { keystoneToken } from '../../support/keystone.ts';
import { glanceCall, startFileServer, type FileServer } from '../../support/glance.ts';
import { waitFor } from '../../support/wait.ts';
import { isInternalAddress } from '../../../src/services/glance/web-download.ts';

type Any = any;


describe('Glance import', () => {
  const served = crypto.randomBytes(3 * 1024 * 1024 + 512);
  let files: FileServer;
  let filesPort: number;
  /** One server allows the file server's address, the other does not. */
  let open: TestServer;
  let guarded: TestServer;
  const tokens = new Map<TestServer, string>();

  before(async () => {
    files = await startFileServer((req, res) => {
      if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${filesPort}/disk.raw` }).end();
      else if (req.url === '/disk.raw') res.writeHead(200, { 'content-length': served.length }).end(served);
      else res.writeHead(404).end();
    });
    filesPort = files.port;
    open = await startServer({ env: { IMAGEHOUSE_IMPORT_ALLOWED_HOSTS: `127.0.0.1:${filesPort}` } });
    guarded = await startServer();
    for (const s of [open, guarded]) {
      const a = await s.account('imp');
      tokens.set(s, await keystoneToken(s.endpoint, a));
    }
  });
  after(async () => {
    await Promise.all([open?.stop(), guarded?.stop()]);
    files?.close();
  });

  const api = (s: TestServer) => (method: string, path: string, body?: unknown, type?: string) => glanceCall(s.endpoint, tokens.get(s)!, method, path, body, type);
  const newImage = async (s: TestServer) => (await api(s)('POST', '/v2/images', { name: 'imp', disk_format: 'raw', container_format: 'bare' })).json.id as string;
  const settled = (s: TestServer, id: string) => waitFor(async () => {
    const img = (await api(s)('GET', `/v2/images/${id}`)).json;
    return img.status === 'active' || img.os_glance_failed_import ? img : undefined;
  }, { what: `import of ${id}` });

  it('advertises its import methods and its store', async () => {
    const info = await api(open)('GET', '/v2/info/import');
    assert.deepEqual(info.json['import-methods'].value, ['glance-direct', 'web-download', 'glance-download']);
    const stores = await api(open)('GET', '/v2/info/stores');
    assert.deepEqual(stores.json.stores.map((x: Any) => x.id), ['chunks']);
  });

  it('stages bytes (uploading), imports them with glance-direct, and serves them back', async () => {
    const call = api(open);
    const id = await newImage(open);
    assert.equal((await call('POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } })).status, 409, 'nothing staged yet');
    const bytes = crypto.randomBytes(1024 * 1024 + 7);
    assert.equal((await call('PUT', `/v2/images/${id}/stage`, bytes, 'application/octet-stream')).status, 204);
    assert.equal((await call('GET', `/v2/images/${id}`)).json.status, 'uploading');
    assert.equal((await call('PUT', `/v2/images/${id}/stage`, bytes, 'application/octet-stream')).status, 409);
    assert.equal((await call('POST', `/v2/images/${id}/import`, { method: { name: 'copy-image' } })).status, 400);
    assert.equal((await call('POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } })).status, 202);
    const img = await settled(open, id);
    assert.equal(img.status, 'active', JSON.stringify((await call('GET', `/v2/images/${id}/tasks`)).json));
    assert.equal(img.checksum, crypto.createHash('md5').update(bytes).digest('hex'));
    assert.equal(img.size, bytes.length);
    const res = await fetch(`${open.endpoint}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': tokens.get(open)! } });
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
    const tasks = (await call('GET', `/v2/images/${id}/tasks`)).json.tasks;
    assert.deepEqual(tasks.map((t: Any) => [t.type, t.status]), [['api_image_import', 'success']]);
  });

  it('a stage keeps the digests it took for its import; one staged before migration 0018 (none kept) is hashed when imported', async () => {
    const call = api(open);
    const db = open.app.services.db;
    const stageDigests = (id: string) => db.selectFrom('glance_images').select(['stage_md5', 'stage_sha512']).where('image_id', '=', id).executeTakeFirstOrThrow();
    for (const legacy of [false, true]) {
      const id = await newImage(open);
      const bytes = crypto.randomBytes(5 * 1024 * 1024 + 3);
      const md5 = crypto.createHash('md5').update(bytes).digest('hex');
      const sha512 = crypto.createHash('sha512').update(bytes).digest('hex');
      assert.equal((await call('PUT', `/v2/images/${id}/stage`, bytes, 'application/octet-stream')).status, 204);
      assert.deepEqual(await stageDigests(id), { stage_md5: md5, stage_sha512: sha512 });
      if (legacy) await db.updateTable('glance_images').set({ stage_md5: '', stage_sha512: '' }).where('image_id', '=', id).execute();
      assert.equal((await call('POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } })).status, 202);
      const img = await settled(open, id);
      assert.deepEqual([img.status, img.checksum, img.os_hash_value, img.size], ['active', md5, sha512, bytes.length], legacy ? 'legacy stage' : 'stage');
      assert.deepEqual(await stageDigests(id), { stage_md5: '', stage_sha512: '' }, 'cleared with the stage');
    }
  });

  it('web-downloads from an allow-listed address, following a redirect', async () => {
    const call = api(open);
    const id = await newImage(open);
    const started = await call('POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri: `http://127.0.0.1:${filesPort}/redirect` } });
    assert.equal(started.status, 202);
    const img = await settled(open, id);
    assert.equal(img.status, 'active', JSON.stringify(img));
    assert.equal(img.os_hash_value, crypto.createHash('sha512').update(served).digest('hex'));
    assert.equal(img.checksum, crypto.createHash('md5').update(served).digest('hex'));
    assert.equal(img.size, served.length);
  });

  it('refuses loopback and private addresses when the allow-list does not name them: the task fails and the image is queued again', async () => {
    const call = api(guarded);
    for (const uri of [`http://127.0.0.1:${filesPort}/disk.raw`, `http://localhost:${filesPort}/disk.raw`, 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/x']) {
      const id = await newImage(guarded);
      assert.equal((await call('POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri } })).status, 202, 'validated when the task runs, as Glance does');
      const img = await settled(guarded, id);
      assert.equal(img.status, 'queued', uri);
      assert.equal(img.os_glance_failed_import, 'chunks');
      const [task] = (await call('GET', `/v2/images/${id}/tasks`)).json.tasks;
      assert.equal(task.status, 'failure');
      assert.match(task.message, /does not pass filtering/, uri);
    }
  });

  const staged = async (s: TestServer, bytes: Buffer, token = tokens.get(s)!) => {
    const call = (method: string, path: string, body?: unknown, type = 'application/json') => fetch(`${s.endpoint}/image${path}`, {
      method, headers: { 'x-auth-token': token, ...(body !== undefined ? { 'content-type': type } : {}) },
      body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const id = (await (await call('POST', '/v2/images', { name: 'src', disk_format: 'raw', container_format: 'bare', visibility: 'private' })).json() as Any).id as string;
    assert.equal((await call('PUT', `/v2/images/${id}/stage`, bytes, 'application/octet-stream')).status, 204);
    assert.equal((await call('POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } })).status, 202);
    return id;
  };

  it('glance-download copies an image of a catalog region into a queued one, with its formats and Glance\'s extra properties', async () => {
    const call = api(open);
    const bytes = crypto.randomBytes(2 * 1024 * 1024 + 100);
    const src = await staged(open, bytes);
    assert.equal((await settled(open, src)).status, 'active');
    const props = [['hw_cpu_cores', '5'], ['trait:STORAGE_DISK_SSD', 'required'], ['os_distro', 'rhel'], ['speed', '88mph']];
    assert.equal((await call('PATCH', `/v2/images/${src}`, props.map(([k, v]) => ({ op: 'add', path: `/${k}`, value: v })), 'application/openstack-images-v2.1-json-patch')).status, 200);
    const dst = (await call('POST', '/v2/images', { name: 'dst', disk_format: 'iso', container_format: 'ovf', os_distro: 'windows' })).json.id;
    const region = (await (await fetch(`${open.endpoint}/identity/v3/auth/catalog`, { headers: { 'x-auth-token': tokens.get(open)! } })).json() as Any).catalog[0].endpoints[0].region;
    const params = { glance_image_id: src, glance_region: region, glance_service_interface: 'internal' };
    assert.equal((await call('POST', `/v2/images/${dst}/import`, { method: { name: 'glance-download', ...params } })).status, 202);
    const img = await settled(open, dst);
    assert.equal(img.status, 'active', JSON.stringify((await call('GET', `/v2/images/${dst}/tasks`)).json));
    assert.deepEqual([img.disk_format, img.container_format, img.hw_cpu_cores, img['trait:STORAGE_DISK_SSD'], img.os_distro, img.speed], ['raw', 'bare', '5', 'required', 'rhel', undefined]);
    assert.equal(img.checksum, crypto.createHash('md5').update(bytes).digest('hex'));
    const res = await fetch(`${open.endpoint}/image/v2/images/${dst}/file`, { headers: { 'x-auth-token': tokens.get(open)! } });
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
    const [task] = (await call('GET', `/v2/images/${dst}/tasks`)).json.tasks;
    assert.deepEqual([task.status, task.input.import_req.method], ['success', { name: 'glance-download', ...params }]);
  });

  it('glance-download refuses an id that is not one at once, and fails the task (image queued, properties kept) for an unknown endpoint, a missing image or another project\'s private image', async () => {
    const call = api(open);
    const dst = async () => (await call('POST', '/v2/images', { name: 'dst', disk_format: 'raw', container_format: 'bare', hw_cpu_cores: '1' })).json.id as string;
    const bad = await call('POST', `/v2/images/${await dst()}/import`, { method: { name: 'glance-download', glance_image_id: 'foo', glance_region: 'x' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /image id does not look like a UUID/);
    const region = (await (await fetch(`${open.endpoint}/identity/v3/auth/catalog`, { headers: { 'x-auth-token': tokens.get(open)! } })).json() as Any).catalog[0].endpoints[0].region;
    const other = await open.account('imp-other');
    const theirs = await staged(open, crypto.randomBytes(4096), await keystoneToken(open.endpoint, other));
    const mine = await staged(open, crypto.randomBytes(4096));
    await settled(open, mine);
    const cases: [Record<string, string>, RegExp][] = [
      [{ glance_image_id: mine, glance_region: 'not a region', glance_service_interface: 'public' }, /no image endpoint in region 'not a region'/],
      [{ glance_image_id: mine, glance_region: region, glance_service_interface: 'not an interface' }, /no image endpoint/],
      [{ glance_image_id: '36d4b546-64a2-4bb9-bdd0-ba676aa48f2c', glance_region: region }, /No image found/],
      [{ glance_image_id: theirs, glance_region: region }, /No image found/],
    ];
    for (const [params, why] of cases) {
      const id = await dst();
      assert.equal((await call('POST', `/v2/images/${id}/import`, { method: { name: 'glance-download', ...params } })).status, 202);
      const img = await settled(open, id);
      assert.deepEqual([img.status, img.hw_cpu_cores, img.disk_format], ['queued', '1', 'raw'], JSON.stringify(params));
      const [task] = (await call('GET', `/v2/images/${id}/tasks`)).json.tasks;
      assert.equal(task.status, 'failure');
      assert.match(task.message, why);
    }
  });

  it('classifies internal addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1']) assert.ok(isInternalAddress(a), a);
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '172.32.0.1']) assert.ok(!isInternalAddress(a), a);
  });
});
