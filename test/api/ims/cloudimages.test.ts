/** GET /v2/cloudimages filters, PATCH, quota and os_version through the Huawei-signed client. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestWorld } from '../../support/server.ts';
import { ImsClient, imsError } from '../../support/ims-client.ts';
import { insertCustomImage } from '../../support/images.ts';

type Any = any;

describe('IMS cloudimages', () => {
  let world: TestWorld<'alice' | 'bob'>;
  let ims: ImsClient;
  let bobIms: ImsClient;
  const ids = { linux: 'm-bp1imslinux000000001', windows: 'm-bp1imswindows0000001', data: 'm-bp1imsdata0000000001', whole: 'm-bp1imswhole000000001', bobs: 'm-bp1imsbob00000000001' };
  const names = async (q: Record<string, string>, client = ims) => (await client.listImages({ __imagetype: 'private', ...q })).images.map((i: Any) => i.name).sort();

  before(async () => {
    world = await startServerWith(['alice', 'bob'], { postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    ims = ImsClient.for(world.server.hostPort, world.accounts.alice);
    bobIms = ImsClient.for(world.server.hostPort, world.accounts.bob);
    const db = world.server.app.services.db;
    const alice = world.accounts.alice.accountId;
    await insertCustomImage(db, { id: ids.linux, region: 'cn-hangzhou', owner_id: alice, name: 'linux1', platform: 'Ubuntu', created_at: Date.parse('2026-01-01T00:00:00Z'), size_gib: 40 });
    await insertCustomImage(db, { id: ids.windows, region: 'cn-hangzhou', owner_id: alice, name: 'windows1', os_type: 'windows', platform: 'Windows Server 2019', created_at: Date.parse('2026-03-01T00:00:00Z') });
    await insertCustomImage(db, { id: ids.data, region: 'cn-hangzhou', owner_id: alice, name: 'data1', image_kind: 'data', created_at: Date.parse('2026-05-01T00:00:00Z') });
    await insertCustomImage(db, { id: ids.whole, region: 'cn-hangzhou', owner_id: alice, name: 'whole1', image_kind: 'whole', status: 'Creating', created_at: Date.parse('2026-07-01T00:00:00Z') });
    await insertCustomImage(db, { id: ids.bobs, region: 'cn-hangzhou', owner_id: world.accounts.bob.accountId, name: 'bob1' });
  });
  after(() => world.server.stop());

  it('filters by image type, kind, OS, platform, status, name, min_disk and dates', async () => {
    assert.deepEqual(await names({}), ['data1', 'linux1', 'whole1', 'windows1'], 'only own images are private; bob\'s is not listed');
    const gold = (await ims.listImages({ __imagetype: 'gold', limit: '3' })).images;
    assert.ok(gold.length === 3 && gold.every((i: Any) => i.__imagetype === 'gold' && i.visibility === 'public'));
    assert.deepEqual(await names({ __whole_image: 'true' }), ['whole1']);
    assert.deepEqual(await names({ virtual_env_type: 'DataImage' }), ['data1']);
    assert.deepEqual(await names({ virtual_env_type: 'FusionCompute' }), ['linux1', 'whole1', 'windows1']);
    assert.deepEqual(await names({ __os_type: 'Windows' }), ['windows1']);
    assert.deepEqual(await names({ __platform: 'Ubuntu' }), ['linux1']);
    assert.deepEqual(await names({ status: 'active' }), ['data1', 'linux1', 'windows1']);
    assert.deepEqual(await names({ name: 'linux1' }), ['linux1']);
    assert.deepEqual(await names({ min_disk: '40' }), ['linux1']);
    assert.deepEqual(await names({ created_at: 'gt:2026-02-01T00:00:00Z' }), ['data1', 'whole1', 'windows1']);
    assert.deepEqual(await names({ created_at: 'lt:2026-04-01T00:00:00Z' }), ['linux1', 'windows1']);
    assert.deepEqual(await names({ visibility: 'private', __os_type: 'Linux', created_at: 'lt:2026-06-01T00:00:00Z' }), ['data1', 'linux1']);
    assert.deepEqual(await names({ __imagetype: 'shared' }, bobIms), []);
    const bad = await imsError(() => ims.listImages({ __imagetype: 'community' }));
    assert.equal(bad.httpStatusCode, 400);
  });

  it('pages with marker/limit and sorts with sort_key/sort_dir', async () => {
    const asc = (await ims.listImages({ __imagetype: 'private', sort_key: 'name', sort_dir: 'asc', limit: '2' })).images.map((i: Any) => i.name);
    assert.deepEqual(asc, ['data1', 'linux1']);
    const next = (await ims.listImages({ __imagetype: 'private', sort_key: 'name', sort_dir: 'asc', limit: '2', marker: ids.linux })).images.map((i: Any) => i.name);
    assert.deepEqual(next, ['whole1', 'windows1']);
    const desc = (await ims.listImages({ __imagetype: 'private', sort_key: 'created_at', sort_dir: 'desc', limit: '1' })).images.map((i: Any) => i.name);
    assert.deepEqual(desc, ['whole1']);
  });

  it('PATCH renames and sets properties of an own image only', async () => {
    const out = await ims.updateImage(ids.linux, [{ op: 'replace', path: '/name', value: 'linux-renamed' }, { op: 'add', path: '/__os_feature', value: 'yes' }]);
    assert.deepEqual([out.name, out.__os_feature], ['linux-renamed', 'yes']);
    assert.deepEqual(await names({ name: 'linux-renamed' }), ['linux-renamed']);
    const err = await imsError(() => bobIms.updateImage(ids.linux, [{ op: 'replace', path: '/name', value: 'x' }]));
    assert.equal(err.httpStatusCode, 404);
  });

  it('TMS tags: add, batch create/delete, per image and per project, owner only', async () => {
    await ims.addImageTag(ids.windows, { key: 'env', value: 'prod' });
    await ims.batchAddOrDeleteTags(ids.windows, { action: 'create', tags: [{ key: 'team', value: 'db' }, { key: 'env', value: 'test' }] });
    assert.deepEqual((await ims.listImageTags(ids.windows)).tags, [{ key: 'env', value: 'test' }, { key: 'team', value: 'db' }]);
    await ims.addImageTag(ids.data, { key: 'env', value: 'prod' });
    assert.deepEqual((await ims.listImagesTags()).tags, [{ key: 'env', values: ['prod', 'test'] }, { key: 'team', values: ['db'] }]);
    await ims.deleteImageTag(ids.windows, 'team');
    await ims.batchAddOrDeleteTags(ids.data, { action: 'delete', tags: [{ key: 'env' }] });
    assert.deepEqual((await ims.listImagesTags()).tags, [{ key: 'env', values: ['test'] }]);
    assert.equal((await imsError(() => ims.addImageTag(ids.windows, { key: 'acs:reserved', value: 'x' }))).httpStatusCode, 400);
    assert.equal((await imsError(() => bobIms.addImageTag(ids.windows, { key: 'x', value: 'y' }))).httpStatusCode, 404);
  });

  it('quota counts own custom images; os_version lists importable platforms', async () => {
    const q = await ims.showQuota();
    assert.deepEqual(q.quotas.resources.map((r: Any) => [r.type, r.used]), [['image', 4]]);
    const versions = await ims.listOsVersions();
    const ubuntu = versions.find((v: Any) => v.platform === 'Ubuntu');
    assert.equal(ubuntu.version_list[0].os_type, 'Linux');
  });
  it('at most 5 cross-region copies of one account run at a time; the 6th is refused until one ends', async () => {
    const { db, jobs } = world.server.app.services;
    const alice = world.accounts.alice.accountId;
    const running: string[] = [];
    for (let i = 0; i < 5; i++) {
      const target = `m-uf6imscopy00000000${i}`;
      await insertCustomImage(db, { id: target, region: 'cn-shanghai', owner_id: alice, name: `copy${i}`, status: 'Creating' });
      const job = await jobs.enqueue(db, { kind: 'CopyImage', region: 'cn-shanghai', accountId: alice, resourceId: target });
      // Held by another worker for an hour, so this server's worker leaves it alone.
      await db.updateTable('jobs').set({ state: 'running', lease_owner: 'elsewhere', lease_until: Date.now() + 3_600_000 }).where('id', '=', job.id).execute();
      running.push(job.id);
    }
    const sixth = await imsError(() => ims.copyImageCrossRegion(ids.linux, { region: 'cn-shanghai', name: 'sixth' }));
    assert.deepEqual([sixth.httpStatusCode, sixth.errorCode], [409, 'OpenStack.Conflict']);
    const bobsCopy = await imsError(() => bobIms.copyImageCrossRegion(ids.linux, { region: 'cn-shanghai', name: 'not-his' }));
    assert.notEqual(bobsCopy.errorCode, 'OpenStack.Conflict', 'the limit is per account: bob is refused for the image, not the count');

    await db.updateTable('jobs').set({ state: 'failed', lease_owner: null, lease_until: null }).where('id', '=', running[0]).execute();
    const started = await ims.copyImageCrossRegion(ids.linux, { region: 'cn-shanghai', name: 'sixth' });
    assert.ok(started.job_id, 'with one copy ended, the next one starts');
    await db.updateTable('jobs').set({ state: 'failed', lease_owner: null, lease_until: null }).where('id', 'in', running).execute();
  });
});
