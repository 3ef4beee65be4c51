/**
 * Through the Huawei-signed client: the query by tags (filter and count), the Glance* operations at the IMS
 * endpoint, UploadImage (a bucket file into a queued image, as a job), and the data disk images of a
 * system disk image reported as sub jobs of its job.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerWith, type TestWorld } from '../../support/server.ts';
import { ImsClient, imsError, waitForJob } from '../../support/ims-client.ts';
import { insertCustomImage } from '../../support/images.ts';
import { Ecs, popClient } from '../../support/sdk.ts';
import { dataConfig, getBytes, launch, pattern, putBytes } from '../disks/support.ts';
import { createBucket, putObject } from '../../../src/cli/commands/transfer/client.ts';

type Any = any;

describe('IMS: tags query, Glance operations, UploadImage, sub jobs', () => {
  let world: TestWorld<'alice' | 'bob'>;
  let ims: ImsClient;
  let bobIms: ImsClient;
  let tmp: string;
  const ids = { web: 'm-bp1imstagsweb0000001', db: 'm-bp1imstagsdb00000001', cache: 'm-bp1imstagscache00001', bare: 'm-bp1imstagsbare000001', bobs: 'm-bp1imstagsbob0000001' };

  before(async () => {
    world = await startServerWith(['alice', 'bob'], { postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    ims = ImsClient.for(world.server.hostPort, world.accounts.alice);
    bobIms = ImsClient.for(world.server.hostPort, world.accounts.bob);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-ims-tags-'));
    const db = world.server.app.services.db;
    const alice = world.accounts.alice.accountId;
    let t = Date.parse('2026-01-01T00:00:00Z');
    for (const [key, id] of Object.entries(ids)) {
      await insertCustomImage(db, { id, region: 'cn-hangzhou', owner_id: key === 'bobs' ? world.accounts.bob.accountId : alice, name: `tagged-${key}`, created_at: (t += 1000) });
    }
    await ims.batchAddOrDeleteTags(ids.web, { action: 'create', tags: [{ key: 'env', value: 'prod' }, { key: 'tier', value: 'web' }] });
    await ims.batchAddOrDeleteTags(ids.db, { action: 'create', tags: [{ key: 'env', value: 'prod' }, { key: 'tier', value: 'db' }] });
    await ims.batchAddOrDeleteTags(ids.cache, { action: 'create', tags: [{ key: 'env', value: 'test' }, { key: 'tier', value: 'cache' }] });
    await bobIms.addImageTag(ids.bobs, { key: 'env', value: 'prod' });
  });
  after(async () => {
    await world.server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const filter = async (body: Record<string, unknown>) => (await ims.listImageByTags({ action: 'filter', ...body })).resources.map((r: Any) => r.resource_id);

  it('filters and counts the project\'s own images by tags, names and paging', async () => {
    const all = await ims.listImageByTags({ action: 'filter', tags: [{ key: 'env', values: ['prod'] }] });
    assert.equal(all.total_count, 2, 'bob\'s env=prod image is not alice\'s');
    assert.deepEqual(all.resources[0], {
      resource_id: ids.web, resource_name: 'tagged-web', resource_detail: { status: 'active' }, tags: [{ key: 'env', value: 'prod' }, { key: 'tier', value: 'web' }],
    });
    assert.deepEqual(await filter({ tags: [{ key: 'env', values: ['prod'] }, { key: 'tier', values: ['db', 'cache'] }] }), [ids.db], 'tags: all hold, a value of each');
    assert.deepEqual(await filter({ tags: [{ key: 'tier', values: [] }] }), [ids.web, ids.db, ids.cache], 'no values: the key with any value');
    assert.deepEqual(await filter({ tags_any: [{ key: 'tier', values: ['web'] }, { key: 'env', values: ['test'] }] }), [ids.web, ids.cache]);
    assert.deepEqual(await filter({ not_tags: [{ key: 'env', values: ['prod'] }, { key: 'tier', values: ['web'] }] }), [ids.db, ids.cache, ids.bare]);
    assert.deepEqual(await filter({ not_tags_any: [{ key: 'tier', values: ['web'] }, { key: 'env', values: ['test'] }] }), [ids.db, ids.bare]);
    assert.deepEqual(await filter({ without_any_tag: true }), [ids.bare]);
    assert.deepEqual(await filter({ matches: [{ key: 'resource_name', value: 'cach' }] }), [ids.cache]);
    const page = await ims.listImageByTags({ action: 'filter', tags: [{ key: 'tier', values: [] }], limit: '1', offset: '1' });
    assert.deepEqual([page.total_count, page.resources.map((r: Any) => r.resource_id)], [3, [ids.db]]);
    assert.deepEqual(await ims.listImageByTags({ action: 'count', tags_any: [{ key: 'env', values: [] }] }), { total_count: 3, httpStatusCode: 200 });
    assert.equal((await imsError(() => ims.listImageByTags({ action: 'list' }))).httpStatusCode, 400);
    assert.equal((await imsError(() => ims.listImageByTags({ action: 'filter', limit: '0' }))).httpStatusCode, 400);
  });

  it('serves the Glance operations at the IMS endpoint over the Glance use cases', async () => {
    const created = await ims.glanceCreateImageMetadata({ name: 'glance-at-ims', disk_format: 'raw', container_format: 'bare', min_disk: 1, __os_version: 'Ubuntu 22.04 server 64bit', tags: ['a'] });
    assert.deepEqual([created.httpStatusCode, created.status, created.__imagetype, created.__os_version, created.tags], [201, 'queued', 'private', 'Ubuntu 22.04 server 64bit', ['a']]);
    const row = await world.server.app.services.db.selectFrom('images').select('share_family').where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.equal(row.share_family, 'ims', 'made through an IMS project: Huawei\'s image rules');
    assert.equal((await ims.glanceShowImage(created.id)).name, 'glance-at-ims');
    assert.equal((await ims.glanceUpdateImage(created.id, [{ op: 'replace', path: '/name', value: 'renamed' }])).name, 'renamed');
    await ims.glanceCreateTag(created.id, 'b');
    await ims.glanceDeleteTag(created.id, 'a');
    assert.deepEqual((await ims.glanceShowImage(created.id)).tags, ['b']);

    const page1 = await ims.glanceListImages({ __imagetype: 'private', sort_key: 'name', sort_dir: 'asc', limit: '2' });
    assert.deepEqual(page1.images.map((i: Any) => i.name), ['renamed', 'tagged-bare']);
    assert.equal(page1.schema, '/v2/schemas/images');
    const marker = new URLSearchParams(page1.next.split('?')[1]).get('marker');
    const page2 = await ims.glanceListImages({ __imagetype: 'private', sort_key: 'name', sort_dir: 'asc', limit: '2', marker: marker! });
    assert.deepEqual(page2.images.map((i: Any) => i.name), ['tagged-cache', 'tagged-db']);
    assert.equal((await ims.glanceSchema('image')).name, 'image');
    assert.equal((await ims.glanceSchema('members')).name, 'members');

    assert.equal((await imsError(() => bobIms.glanceDeleteImage(created.id))).httpStatusCode, 404);
    assert.equal((await imsError(() => ims.glanceDeleteImage(created.id, { delete_backup: true }))).httpStatusCode, 400);
    await ims.glanceDeleteImage(created.id);
    assert.equal((await imsError(() => ims.glanceShowImage(created.id))).httpStatusCode, 404);
  });

  it('UploadImage imports a bucket file into a queued image as a job; the image launches with its bytes', async () => {
    const cfg = dataConfig(world.server, world.accounts.alice);
    await createBucket(cfg, 'alice-uploads');
    const content = Buffer.concat([pattern(8192, 51), Buffer.alloc(1024 * 1024 - 8192)]);
    const file = path.join(tmp, 'disk.raw');
    fs.writeFileSync(file, content);
    await putObject(cfg, 'alice-uploads', 'disk.raw', file);
    const image = await ims.glanceCreateImageMetadata({ name: 'registered', disk_format: 'raw', container_format: 'bare' });

    const { job_id: jobId } = await ims.registerImage(image.id, { image_url: 'alice-uploads:disk.raw' });
    const job = await waitForJob(ims, jobId);
    assert.deepEqual([job.status, job.job_type, job.entities.image_id], ['SUCCESS', 'registerImage', image.id]);
    const shown = await ims.glanceShowImage(image.id);
    assert.deepEqual([shown.status, shown.size], ['active', content.length]);
    const vm = await launch(world.ecs.alice, { imageId: image.id });
    assert.deepEqual(await getBytes(cfg, vm.system.diskId, 0, 8192), content.subarray(0, 8192));

    assert.equal((await imsError(() => ims.registerImage(image.id, { image_url: 'alice-uploads:disk.raw' }))).httpStatusCode, 409, 'only a queued image');
    const other = await ims.glanceCreateImageMetadata({ name: 'registered-2', disk_format: 'raw', container_format: 'bare' });
    assert.equal((await imsError(() => ims.registerImage(other.id, { image_url: 'alice-uploads:missing.raw' }))).errorCode, 'InvalidOSSObject.NotFound');
    assert.equal((await imsError(() => ims.registerImage(other.id, { image_url: 'no-colon' }))).httpStatusCode, 400);
    await createBucket(dataConfig(world.server, world.accounts.bob), 'bob-uploads');
    assert.equal((await imsError(() => ims.registerImage(other.id, { image_url: 'bob-uploads:disk.raw' }))).errorCode, 'InvalidOSS.NotAuthorized');
    assert.equal((await imsError(() => bobIms.registerImage(other.id, { image_url: 'bob-uploads:disk.raw' }))).httpStatusCode, 404);
  });

  it('a system disk image made with data_images reports the data disk images as sub jobs', async () => {
    const src = await launch(world.ecs.alice, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20 }), new Ecs.RunInstancesRequestDataDisk({ size: 30 })] });
    await putBytes(dataConfig(world.server, world.accounts.alice), src.data[1].diskId, 0, pattern(4096, 52));
    const { job_id: jobId } = await ims.createImage({
      name: 'with-data', instance_id: src.instanceId,
      data_images: [{ name: 'data-one', volume_id: src.data[0].diskId }, { name: 'data-two', volume_id: src.data[1].diskId }],
    });
    const job = await waitForJob(ims, jobId);
    assert.equal(job.status, 'SUCCESS');
    const { entities } = job;
    assert.equal(entities.image_name, 'with-data');
    assert.equal(entities.sub_jobs_list.length, 2);
    assert.deepEqual(entities.sub_jobs_result.map((s: Any) => [s.status, s.entities.image_name]), [['SUCCESS', 'data-one'], ['SUCCESS', 'data-two']]);
    assert.deepEqual(entities.sub_jobs_result.map((s: Any) => s.job_id), entities.sub_jobs_list);
    const dataImages = (await ims.listImages({ virtual_env_type: 'DataImage', __imagetype: 'private', sort_key: 'name', sort_dir: 'asc' })).images;
    assert.deepEqual(dataImages.map((i: Any) => [i.name, i.id]), entities.sub_jobs_result.map((s: Any) => [s.entities.image_name, s.entities.image_id]));
    // Each sub job is a job of its own too.
    assert.equal((await ims.showJob(entities.sub_jobs_list[1])).entities.image_id, entities.sub_jobs_result[1].entities.image_id);
    // A data disk image made here creates a disk through ECS CreateDisk with ImageId, holding the volume's bytes.
    const made = await popClient(world.server.endpoint, world.accounts.alice).request('CreateDisk', { RegionId: 'cn-hangzhou', ImageId: dataImages[1].id }, { method: 'POST' }) as Any;
    assert.deepEqual(await getBytes(dataConfig(world.server, world.accounts.alice), made.DiskId, 0, 4096), pattern(4096, 52));
  });
});
