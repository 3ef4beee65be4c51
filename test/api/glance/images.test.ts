/** Glance v2 over plain fetch against a started server, and the same images through the ECS API. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, type TestServer } from '../../support/server.ts';
import { keystoneToken } from '../../support/keystone.ts';
import { glanceCall } from '../../support/glance.ts';
import { popClient } from '../../support/sdk.ts';
import { sampleDisk, seedSnapshot } from '../../support/snapshots.ts';

type Any = any;


describe('Glance v2', () => {
  let s: TestServer;
  let a: Awaited<ReturnType<TestServer['account']>>;
  let b: Awaited<ReturnType<TestServer['account']>>;
  let ta: string;
  let tb: string;
  const api = (t: string) => (method: string, path: string, body?: unknown, type?: string) => glanceCall(s.endpoint, t, method, path, body, type);
  before(async () => {
    s = await startServer({ postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    a = await s.account('ga');
    b = await s.account('gb');
    ta = await keystoneToken(s.endpoint, a);
    tb = await keystoneToken(s.endpoint, b);
  });
  after(() => s.stop());

  it('answers 300 with versions on the image root, and 401 with WWW-Authenticate without a token', async () => {
    const root = await fetch(`${s.endpoint}/image`);
    assert.equal(root.status, 300);
    assert.equal(((await root.json()) as Any).versions[0].status, 'CURRENT');
    const res = await fetch(`${s.endpoint}/image/v2/images`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Keystone uri="${s.endpoint}/identity"`);
    const err = (await res.json()) as Any;
    assert.equal(err.code, '401 Unauthorized');
    assert.equal(err.title, 'Unauthorized');
    assert.ok(err.message);
  });

  it('creates, uploads, downloads, patches, tags, shares and deletes an image; ECS sees it', async () => {
    const A = api(ta);
    const B = api(tb);
    const created = await A('POST', '/v2/images', { name: 'glance one', disk_format: 'raw', container_format: 'bare', 'owner_specified.openstack.md5': 'x', tags: ['t1'] });
    assert.equal(created.status, 201);
    const id = created.json.id;
    assert.equal(created.json.status, 'queued');
    assert.equal(created.json.visibility, 'shared');
    assert.equal(created.json['owner_specified.openstack.md5'], 'x');
    assert.equal(created.json.owner, a.accountId);
    assert.ok(created.headers.get('location')?.endsWith(`/image/v2/images/${id}`));

    const bytes = crypto.randomBytes(3 * 1024 * 1024 + 512);
    assert.equal((await A('PUT', `/v2/images/${id}/file`, bytes, 'application/octet-stream')).status, 204);
    const shown = (await A('GET', `/v2/images/${id}`)).json;
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, bytes.length);
    assert.equal(shown.checksum, crypto.createHash('md5').update(bytes).digest('hex'));
    assert.equal(shown.os_hash_value, crypto.createHash('sha512').update(bytes).digest('hex'));
    assert.equal((await A('PUT', `/v2/images/${id}/file`, bytes, 'application/octet-stream')).status, 409);
    const dl = await fetch(`${s.endpoint}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': ta } });
    assert.equal(dl.status, 200);
    assert.equal(dl.headers.get('content-md5'), shown.checksum);
    assert.ok(Buffer.from(await dl.arrayBuffer()).equals(bytes));

    // ECS sees the Glance image
    const ecs = (await popClient(s.endpoint, a).request('DescribeImages', { RegionId: s.app.services.regions.all[0].id, ImageId: id })) as Any;
    assert.equal(ecs.Images.Image[0].Status, 'Available');

    // PATCH: media type, properties, read-only
    const wrong = await A('PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/name', value: 'x' }]);
    assert.equal(wrong.status, 415);
    assert.match(wrong.headers.get('accept-patch')!, /openstack-images-v2.1-json-patch/);
    const P = 'application/openstack-images-v2.1-json-patch';
    const patched = await A('PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/name', value: 'renamed' }, { op: 'add', path: '/os_distro', value: 'debian' }, { op: 'add', path: '/protected', value: true }], P);
    assert.equal(patched.status, 200);
    assert.equal(patched.json.name, 'renamed');
    assert.equal(patched.json.os_distro, 'debian');
    assert.equal((await A('PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/size', value: 1 }], P)).status, 403);
    assert.equal((await A('PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/visibility', value: 'public' }], P)).status, 403);

    // tags
    assert.equal((await A('PUT', `/v2/images/${id}/tags/t2`)).status, 204);
    assert.equal((await A('DELETE', `/v2/images/${id}/tags/t1`)).status, 204);
    assert.equal((await A('DELETE', `/v2/images/${id}/tags/t1`)).status, 404);
    assert.deepEqual((await A('GET', `/v2/images/${id}`)).json.tags, ['t2']);
    assert.equal((await A('GET', '/v2/images?tag=t2')).json.images.length, 1);

    // members: pending → accepted (an ECS share) → rejected
    assert.equal((await B('GET', `/v2/images/${id}`)).status, 404);
    const added = await A('POST', `/v2/images/${id}/members`, { member: b.accountId });
    assert.equal(added.json.status, 'pending');
    assert.equal((await B('GET', `/v2/images/${id}`)).status, 200);
    assert.equal((await B('GET', `/v2/images?owner=${a.accountId}`)).json.images.length, 0);
    assert.equal((await B('GET', '/v2/images?member_status=pending&visibility=shared')).json.images.length, 1);
    assert.equal((await A('PUT', `/v2/images/${id}/members/${b.accountId}`, { status: 'accepted' })).status, 403);
    assert.equal((await B('PUT', `/v2/images/${id}/members/${b.accountId}`, { status: 'accepted' })).json.status, 'accepted');
    assert.deepEqual((await B('GET', `/v2/images?owner=${a.accountId}`)).json.images.map((i: Any) => i.id), [id]);
    const shared = (await popClient(s.endpoint, b).request('DescribeImages', { RegionId: s.app.services.regions.all[0].id, ImageOwnerAlias: 'others' })) as Any;
    assert.deepEqual(shared.Images.Image.map((i: Any) => i.ImageId), [id]);
    assert.equal((await B('PUT', `/v2/images/${id}/members/${b.accountId}`, { status: 'rejected' })).json.status, 'rejected');
    assert.equal((await B('GET', `/v2/images?owner=${a.accountId}`)).json.images.length, 0);

    // deactivate: no download
    assert.equal((await A('POST', `/v2/images/${id}/actions/deactivate`)).status, 204);
    assert.equal((await A('GET', `/v2/images/${id}`)).json.status, 'deactivated');
    assert.equal((await A('GET', `/v2/images/${id}/file`)).status, 403);
    assert.equal((await A('POST', `/v2/images/${id}/actions/reactivate`)).status, 204);

    // protected: no delete
    assert.equal((await A('DELETE', `/v2/images/${id}`)).status, 403);
    await A('PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/protected', value: false }], P);
    assert.equal((await A('DELETE', `/v2/images/${id}`)).status, 204);
    assert.equal((await A('GET', `/v2/images/${id}`)).status, 404);
  });

  it('refuses data that does not match disk_format, and a qcow2 with a backing file', async () => {
    const A = api(ta);
    const qcow = (await A('POST', '/v2/images', { name: 'q', disk_format: 'qcow2', container_format: 'bare' })).json.id;
    const res = await A('PUT', `/v2/images/${qcow}/file`, crypto.randomBytes(4096), 'application/octet-stream');
    assert.equal(res.status, 400);
    assert.equal((await A('GET', `/v2/images/${qcow}`)).json.status, 'queued');
    // qcow2 header with a backing file offset (a minimal v3 header)
    const h = Buffer.alloc(1024 * 1024);
    h.write('QFI\xfb', 0, 'latin1');
    h.writeUInt32BE(3, 4);
    h.writeBigUInt64BE(512n, 8); h.writeUInt32BE(10, 16);
    h.write('/etc/passwd', 512);
    h.writeUInt32BE(16, 20); h.writeBigUInt64BE(1n << 26n, 24); h.writeUInt32BE(1, 36); h.writeBigUInt64BE(65536n, 40);
    h.writeBigUInt64BE(131072n, 48); h.writeUInt32BE(1, 56); h.writeUInt32BE(1, 60); h.writeBigUInt64BE(196608n, 64);
    h.writeUInt32BE(4, 96); h.writeUInt32BE(104, 100);
    const bad = await A('PUT', `/v2/images/${qcow}/file`, h, 'application/octet-stream');
    assert.equal(bad.status, 400);
  });

  it('lists with limit, marker and next links, sorted', async () => {
    const A = api(ta);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await A('POST', '/v2/images', { name: `page-${i}`, disk_format: 'raw', container_format: 'bare' })).json.id);
    const first = await A('GET', '/v2/images?limit=2&sort=name:asc&name=in:page-0,page-1,page-2,page-3,page-4');
    assert.deepEqual(first.json.images.map((i: Any) => i.name), ['page-0', 'page-1']);
    assert.ok(first.json.next.includes('marker='));
    const second = await A('GET', first.json.next.replace(/^\/v2/, '/v2'));
    assert.deepEqual(second.json.images.map((i: Any) => i.name), ['page-2', 'page-3']);
    assert.equal((await A('GET', '/v2/images?sort_key=bogus')).status, 400);
  });

  it('filters in the database: properties, tags, formats, protected, dates, member status; paging with two sort keys', async () => {
    const A = api(ta);
    const B = api(tb);
    const mk = async (body: Any) => (await A('POST', '/v2/images', { container_format: 'bare', ...body })).json;
    const x = await mk({ name: 'flt-x', disk_format: 'raw', os_distro: 'debian', tags: ['flt', 'red'] });
    const y = await mk({ name: 'flt-y', disk_format: 'qcow2', os_distro: 'ubuntu', tags: ['flt'], protected: true });
    const z = await mk({ name: 'flt-z', disk_format: 'raw', os_distro: 'debian', tags: ['flt', 'red'], min_ram: 512 });
    const names = async (q: string, as = A) => (await as('GET', `/v2/images?${q}`)).json.images.map((i: Any) => i.name).sort();
    // A listed image is what its GET shows: every field, its tags and properties (the list reads the same document).
    const listed = (await A('GET', '/v2/images?tag=flt')).json.images as Any[];
    assert.equal(listed.length, 3);
    for (const image of listed) assert.deepEqual(image, (await A('GET', `/v2/images/${image.id}`)).json);
    assert.deepEqual(listed.find((i) => i.id === x.id).tags.sort(), ['flt', 'red']);
    assert.deepEqual(await names('tag=flt&os_distro=debian'), ['flt-x', 'flt-z']);
    assert.deepEqual(await names('tag=flt&tag=red&disk_format=raw'), ['flt-x', 'flt-z']);
    assert.deepEqual(await names('tag=flt&protected=true'), ['flt-y']);
    assert.deepEqual(await names('tag=flt&min_ram=512'), ['flt-z']);
    assert.deepEqual(await names(`tag=flt&id=in:${x.id},${y.id}`), ['flt-x', 'flt-y']);
    assert.deepEqual(await names(`tag=flt&created_at=gte:${x.created_at}`), ['flt-x', 'flt-y', 'flt-z']);
    assert.deepEqual(await names('tag=flt&created_at=lt:2000-01-01T00:00:00Z'), []);
    assert.equal((await A('GET', '/v2/images?protected=maybe')).status, 400);
    // Two sort keys with a marker: disk_format asc, then name desc.
    const page1 = (await A('GET', '/v2/images?tag=flt&sort=disk_format:asc,name:desc&limit=2')).json;
    assert.deepEqual(page1.images.map((i: Any) => i.name), ['flt-y', 'flt-z']);
    const page2 = (await A('GET', `/v2/images?tag=flt&sort=disk_format:asc,name:desc&limit=2&marker=${z.id}`)).json;
    assert.deepEqual(page2.images.map((i: Any) => i.name), ['flt-x']);
    // Shared with b: pending until accepted, listed by member_status.
    assert.equal((await A('POST', `/v2/images/${x.id}/members`, { member: b.accountId })).status, 200);
    assert.deepEqual(await names('tag=flt', B), []);
    assert.deepEqual(await names('tag=flt&member_status=pending', B), ['flt-x']);
    await B('PUT', `/v2/images/${x.id}/members/${b.accountId}`, { status: 'accepted' });
    assert.deepEqual(await names('tag=flt', B), ['flt-x']);
    await A('PATCH', `/v2/images/${y.id}`, [{ op: 'replace', path: '/protected', value: false }], 'application/openstack-images-v2.1-json-patch');
  });

  it('shows an ECS-made image through Glance (CreateImage → GET /v2/images, GET /file)', async () => {
    const region = s.app.services.regions.all[0].id;
    const content = sampleDisk(2, 7);
    const { snapshotId } = await seedSnapshot(s, a.accountId, region, content);
    const made = (await popClient(s.endpoint, a).request('CreateImage', { RegionId: region, SnapshotId: snapshotId, ImageName: 'from-ecs' }, { method: 'POST' })) as Any;
    const A = api(ta);
    let img: Any;
    for (let i = 0; i < 200; i++) {
      img = (await A('GET', `/v2/images/${made.ImageId}`)).json;
      if (img.status !== 'queued' && img.status !== 'importing' && img.status !== 'saving') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(img.status, 'active');
    assert.equal(img.name, 'from-ecs');
    assert.equal(img.disk_format, 'raw');
    assert.equal(img.owner, a.accountId);
    const listed = (await A('GET', `/v2/images?owner=${a.accountId}&name=from-ecs`)).json.images;
    assert.deepEqual(listed.map((i: Any) => i.id), [made.ImageId]);
    const dl = await fetch(`${s.endpoint}/image/v2/images/${made.ImageId}/file`, { headers: { 'x-auth-token': ta } });
    assert.equal(dl.status, 200);
    assert.ok(Buffer.from(await dl.arrayBuffer()).equals(content));
    // a public (system) image is public in Glance
    const sys = await s.app.services.db.selectFrom('images').select('id').where('category', '=', 'system').where('status', '=', 'Available').limit(1).execute();
    if (sys.length) assert.equal((await A('GET', `/v2/images/${sys[0].id}`)).json.visibility, 'public');
  });

  it('an image uploaded through Glance and deleted through ECS DeleteImage is gone from Glance, its file manifest released', async () => {
    const A = api(ta);
    const id = (await A('POST', '/v2/images', { name: 'to-ecs-delete', disk_format: 'raw', container_format: 'bare' })).json.id;
    assert.equal((await A('PUT', `/v2/images/${id}/file`, crypto.randomBytes(1024 * 1024), 'application/octet-stream')).status, 204);
    const { db } = s.app.services;
    const g = await db.selectFrom('glance_images').select('file_manifest_id').where('image_id', '=', id).executeTakeFirstOrThrow();
    const holders = async () => Number((await db.selectFrom('manifests').select('holders').where('id', '=', g.file_manifest_id).executeTakeFirst())?.holders ?? 0);
    assert.equal(await holders(), 2); // raw: the snapshot and the file share one manifest
    await popClient(s.endpoint, a).request('DeleteImage', { RegionId: s.app.services.regions.all[0].id, ImageId: id }, { method: 'POST' });
    assert.equal((await A('GET', `/v2/images/${id}`)).status, 404);
    assert.equal(await holders(), 1); // the snapshot stays, as ECS DeleteImage keeps snapshots
    assert.equal((await db.selectFrom('glance_images').select('image_id').where('image_id', '=', id).execute()).length, 0);
  });

  it('serves info and schemas', async () => {
    const A = api(ta);
    assert.deepEqual((await A('GET', '/v2/info/import')).json['import-methods'].value, ['glance-direct', 'web-download', 'glance-download']);
    assert.equal((await A('GET', '/v2/schemas/image')).json.name, 'image');
    assert.equal((await A('GET', '/v2/schemas/members')).json.name, 'members');
  });
});
