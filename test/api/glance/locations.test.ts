/** Glance image locations: http(s) locations through PATCH, the SSRF guard on them, validation_data, GET /file from a location. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, type TestServer } from '../../support/server.ts';
import { keystoneToken } from '../../support/keystone.ts';
import { glanceCall, startFileServer, type FileServer } from '../../support/glance.ts';
import { Ecs, ecsClient, sdkError } from '../../support/sdk.ts';
import type { NewAccount } from '../../../src/services/accounts.ts';

type Any = any;
const PATCH = 'application/openstack-images-v2.1-json-patch';

describe('Glance locations', () => {
  const served = crypto.randomBytes(1024 * 1024 + 3);
  let files: FileServer;
  let filesPort: number;
  let heads = 0;
  /** One server allows the file server's address, the other does not. */
  let open: TestServer;
  let guarded: TestServer;
  const tokens = new Map<TestServer, string>();
  let owner: NewAccount;

  before(async () => {
    files = await startFileServer((req, res) => {
      if (req.method === 'HEAD') heads++;
      if (req.url === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${filesPort}/disk.raw` }).end();
      else if (req.url === '/disk.raw' || req.url === '/copy.raw') res.writeHead(200, { 'content-length': served.length }).end(req.method === 'HEAD' ? undefined : served);
      else res.writeHead(404).end();
    });
    filesPort = files.port;
    // On PostgreSQL too when IMAGEHOUSE_TEST_DATABASE_URL is set (migration 0012's column).
    open = await startServer({ env: { IMAGEHOUSE_IMPORT_ALLOWED_HOSTS: `127.0.0.1:${filesPort}` }, postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    guarded = await startServer();
    owner = await open.account('loc');
    tokens.set(open, await keystoneToken(open.endpoint, owner));
    tokens.set(guarded, await keystoneToken(guarded.endpoint, await guarded.account('loc')));
  });
  after(async () => {
    await Promise.all([open?.stop(), guarded?.stop()]);
    files?.close();
  });

  const api = (s: TestServer) => (method: string, path: string, body?: unknown, type?: string) => glanceCall(s.endpoint, tokens.get(s)!, method, path, body, type);
  const newImage = async (s: TestServer) => (await api(s)('POST', '/v2/images', { name: 'loc', disk_format: 'raw', container_format: 'bare' })).json;
  const url = (path: string) => `http://127.0.0.1:${filesPort}${path}`;

  it('an http location makes a queued image active with the size its server gives; GET /file streams it', async () => {
    const call = api(open);
    const created = await newImage(open);
    assert.deepEqual(created.locations, []);
    const before = heads;
    const res = await call('PATCH', `/v2/images/${created.id}`, [{ op: 'add', path: '/locations/-', value: { url: url('/redirect'), metadata: { foo: 'bar' } } }], PATCH);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.ok(heads > before, 'the location was checked with a HEAD');
    assert.deepEqual([res.json.status, res.json.size, res.json.locations], ['active', served.length, [{ url: url('/redirect'), metadata: { foo: 'bar' } }]]);
    assert.equal(res.json.checksum, null, 'no hashing is done');
    const file = await fetch(`${open.endpoint}/image/v2/images/${created.id}/file`, { headers: { 'x-auth-token': tokens.get(open)! } });
    assert.equal(file.status, 200);
    assert.ok(Buffer.from(await file.arrayBuffer()).equals(served));
    // ECS sees it Available, but it has no disk in the chunk store to boot from.
    const ecs = ecsClient(open.hostPort, owner);
    const run = await sdkError(() => ecs.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-hangzhou', imageId: created.id, instanceType: 'ecs.g7.large' })));
    assert.equal(run.code, 'OperationDenied.ImageNotValid');
  });

  it('adds, replaces (metadata only) and removes locations as Glance allows', async () => {
    const call = api(open);
    const { id } = await newImage(open);
    const patch = (ops: unknown[]) => call('PATCH', `/v2/images/${id}`, ops, PATCH);
    assert.equal((await patch([{ op: 'add', path: '/locations/-', value: { url: 'gopher://info.cern.ch', metadata: {} } }])).status, 400);
    assert.equal((await patch([{ op: 'add', path: '/locations/-', value: { url: url('/missing'), metadata: {} } }])).status, 400, 'a location that does not answer');
    assert.equal((await call('GET', `/v2/images/${id}`)).json.status, 'queued');
    assert.equal((await patch([{ op: 'remove', path: '/locations/0' }])).status, 400);
    const a = { url: url('/disk.raw'), metadata: {} };
    const b = { url: url('/copy.raw'), metadata: { speed: '88mph' } };
    assert.equal((await patch([{ op: 'add', path: '/locations/-', value: a }])).status, 200);
    assert.equal((await patch([{ op: 'add', path: '/locations/-', value: a }])).status, 400, 'duplicate');
    assert.equal((await patch([{ op: 'add', path: '/locations/-', value: b }])).status, 200);
    const changed = [{ ...a, metadata: { date: '2015-10-15' } }, b];
    assert.deepEqual((await patch([{ op: 'replace', path: '/locations', value: changed }])).json.locations, changed);
    assert.equal((await patch([{ op: 'replace', path: '/locations', value: [changed[0]] }])).status, 400);
    assert.equal((await patch([{ op: 'replace', path: '/locations', value: [changed[0], { ...b, url: url('/disk.raw#new3') }] }])).status, 400);
    const removed = await patch([{ op: 'remove', path: '/locations/0' }]);
    assert.deepEqual(removed.json.locations, [b]);
    assert.equal((await patch([{ op: 'remove', path: '/locations/0' }])).status, 403, 'the last location stays');
  });

  it('validation_data sets the hashes only while queued, and a different value conflicts', async () => {
    const call = api(open);
    const { id } = await newImage(open);
    const patch = (ops: unknown[]) => call('PATCH', `/v2/images/${id}`, ops, PATCH);
    const good = { checksum: '1'.repeat(32), os_hash_algo: 'sha512', os_hash_value: 'deadbeef'.repeat(16) };
    const add = (u: string, validation_data: unknown) => patch([{ op: 'add', path: '/locations/-', value: { url: url(u), metadata: {}, validation_data } }]);
    assert.equal((await add('/disk.raw', { ...good, os_hash_algo: 'sha256' })).status, 409, 'not the service\'s algorithm');
    assert.equal((await add('/disk.raw', { ...good, checksum: 'xyz' })).status, 409);
    const set = await add('/disk.raw', good);
    assert.deepEqual([set.json.checksum, set.json.os_hash_algo, set.json.os_hash_value, set.json.status], [good.checksum, 'sha512', good.os_hash_value, 'active']);
    assert.equal(set.json.locations[0].validation_data, undefined);
    assert.equal((await add('/disk.raw#same', good)).status, 200, 'the same values again');
    for (const k of ['checksum', 'os_hash_value'] as const) assert.equal((await add('/disk.raw#other', { ...good, [k]: '2'.repeat(good[k].length) })).status, 409, k);
    assert.equal((await call('GET', `/v2/images/${id}`)).json.locations.length, 2);
  });

  it('an uploaded image has one location, its chunk store copy, which cannot be removed', async () => {
    const call = api(open);
    const { id } = await newImage(open);
    assert.equal((await call('PUT', `/v2/images/${id}/file`, crypto.randomBytes(4096), 'application/octet-stream')).status, 204);
    const img = (await call('GET', `/v2/images/${id}`)).json;
    assert.deepEqual(img.locations.map((l: Any) => l.metadata.store), ['chunks']);
    assert.equal((await call('PATCH', `/v2/images/${id}`, [{ op: 'add', path: '/locations/-', value: { url: url('/copy.raw'), metadata: {} } }], PATCH)).status, 200);
    assert.equal((await call('PATCH', `/v2/images/${id}`, [{ op: 'remove', path: '/locations/0' }], PATCH)).status, 403);
  });

  it('refuses loopback locations unless the allow-list names them', async () => {
    const call = api(guarded);
    const { id } = await newImage(guarded);
    for (const u of [url('/disk.raw'), 'http://169.254.169.254/latest/meta-data/']) {
      const res = await call('PATCH', `/v2/images/${id}`, [{ op: 'add', path: '/locations/-', value: { url: u, metadata: {} } }], PATCH);
      assert.equal(res.status, 400);
      assert.match(res.json.message, /does not pass filtering/);
    }
    assert.equal((await call('GET', `/v2/images/${id}`)).json.status, 'queued');
  });
});
