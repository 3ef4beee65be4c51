import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeBackends } from '../support/stores.ts';
import { insertCustomImage } from '../support/images.ts';
import { describeImages, findVisibleImage, newestOfFamily } from '../../src/services/images/describe.ts';
import { imageLookups } from '../../src/services/images/lookups.ts';
import { modifyImageAttribute } from '../../src/services/images/modify.ts';
import { seedPublicImages } from '../../src/services/catalog-seed.ts';
import { ensureSystemAccount } from '../../src/services/accounts.ts';
import { loadPublicImages } from '../../src/domain/catalog/index.ts';
import { loadRegionTable } from '../../src/app.ts';
import { ApiError } from '../../src/domain/errors.ts';

const ALICE = '1000000000000001';
const BOB = '1000000000000002';
const CAROL = '1000000000000003';
const R = 'cn-hangzhou';

async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: unknown) => e instanceof ApiError && e.code === code);
}

for (const backend of storeBackends()) {
  test(`${backend.name}: visibility, filters and attribute rules of the image store`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    const db = store.db;
    const services = { db, dialect: store.dialect, counts: store.counts, imageLookups: imageLookups(db, store.dialect), regions: loadRegionTable({ regionsFile: '' }), clock: { now: () => 5 } };
    try {
      for (const [id, name] of [[ALICE, 'alice'], [BOB, 'bob'], [CAROL, 'carol']]) {
        await db.insertInto('accounts').values({ id, name, kind: 'user', created_at: 0 }).execute();
      }
      const system = await ensureSystemAccount(services);
      const seeded = await seedPublicImages(services, system, loadPublicImages());
      assert.ok(seeded > 100, 'the catalog is released to several regions');
      assert.equal(await seedPublicImages(services, system, loadPublicImages()), seeded, 'seeding is idempotent');

      await insertCustomImage(db, { id: 'm-bp1aliceimage00000001', region: R, owner_id: ALICE, name: 'web_base', family: 'web', created_at: 1000 });
      await insertCustomImage(db, { id: 'm-bp1aliceimage00000002', region: R, owner_id: ALICE, name: 'web_next', family: 'web', created_at: 2000 });
      await insertCustomImage(db, { id: 'm-bp1bobimage0000000001', region: R, owner_id: BOB, name: 'bob_image' });
      await insertCustomImage(db, { id: 'm-2zebobimage0000000002', region: 'cn-beijing', owner_id: BOB, name: 'bob_bj' });
      await db.insertInto('image_shares').values({ image_id: 'm-bp1bobimage0000000001', account_id: ALICE, created_at: 0 }).execute();
      await db.insertInto('tags').values({ resource_id: 'm-bp1aliceimage00000002', resource_type: 'image', tag_key: 'env', tag_value: 'prod' }).execute();
      await db.insertInto('tags').values({ resource_id: 'm-bp1aliceimage00000002', resource_type: 'image', tag_key: 'app', tag_value: 'web' }).execute();
      // UTF-16 order would put the emoji (a surrogate pair) first; SQLite's BINARY order, like C collation, is code-point order.
      for (const key of ['\u{1F600}', '\uFF58']) await db.insertInto('tags').values({ resource_id: 'm-bp1aliceimage00000001', resource_type: 'image', tag_key: key, tag_value: '' }).execute();
      const dataDisk = { image_id: 'm-bp1aliceimage00000002', idx: 1, type: 'data' as const, device: '/dev/xvdb', size_gib: 40, snapshot_id: 's-data', format: 'qcow2', import_bucket: 'b', import_object: 'o', progress: 50 };
      await db.insertInto('image_disks').values(dataDisk).execute();
      await db.insertInto('instances').values({
        id: 'i-bp1alicevm0000000001', region: R, zone: 'cn-hangzhou-h', owner_id: ALICE, name: 'vm', instance_type: 'ecs.g7.large', status: 'Running',
        image_id: 'm-bp1aliceimage00000001', created_at: 0, updated_at: 0,
      } as never).execute();

      const page = { offset: 0, limit: 100 };
      const mine = await describeImages(services, { region: R, viewer: ALICE, alias: 'self', statuses: ['Available'] }, page);
      assert.deepEqual(mine.items.map((i) => i.row.id), ['m-bp1aliceimage00000002', 'm-bp1aliceimage00000001'], 'newest first');
      // Disks, tags, share state and use come with the rows (one statement): in order, typed, and the row stays an image row.
      assert.deepEqual(mine.items.map((i) => i.disks.map((d) => d.idx)), [[0, 1], [0]]);
      assert.deepEqual(mine.items[0].disks[1], dataDisk);
      assert.deepEqual(mine.items[0].tags, [{ key: 'app', value: 'web' }, { key: 'env', value: 'prod' }], 'sorted by key');
      assert.deepEqual(mine.items.map((i) => [i.inUse, i.isSelfShared]), [[false, false], [true, false]]);
      assert.deepEqual(mine.items[1].tags.map((t) => t.key), ['\uFF58', '\u{1F600}']);
      assert.deepEqual(Object.keys(mine.items[1].row).sort(), Object.keys(await db.selectFrom('images').selectAll().where('id', '=', 'm-bp1aliceimage00000001').executeTakeFirstOrThrow()).sort());
      const others = await describeImages(services, { region: R, viewer: ALICE, alias: 'others', statuses: ['Available'] }, page);
      assert.deepEqual(others.items.map((i) => [i.row.id, i.alias]), [['m-bp1bobimage0000000001', 'others']]);
      const bobsView = await describeImages(services, { region: R, viewer: BOB, alias: 'self', statuses: ['Available'] }, page);
      assert.equal(bobsView.items[0].isSelfShared, true);
      const carol = await describeImages(services, { region: R, viewer: CAROL, statuses: undefined }, { offset: 0, limit: 1000 });
      assert.ok(carol.items.every((i) => i.alias === 'system'), 'carol sees only public images');
      assert.equal(carol.total, carol.items.length);
      const defaults = await describeImages(services, { region: R, viewer: ALICE, statuses: ['Available'] }, { offset: 0, limit: 1000 });
      assert.deepEqual(new Set(defaults.items.map((i) => i.alias)), new Set(['system', 'self', 'others']));
      const beijing = await describeImages(services, { region: 'cn-beijing', viewer: ALICE, alias: 'others', statuses: undefined }, page);
      assert.equal(beijing.total, 0, 'a share does not leak the owner\'s other regions');

      const ids = ['m-bp1aliceimage00000001', 'm-bp1bobimage0000000001', 'm-bp1aliceimage00000002', 'm-2zebobimage0000000002'];
      const byIds = await describeImages(services, { region: R, viewer: ALICE, ids, statuses: ['Available'] }, { offset: 1, limit: 1 });
      assert.equal(byIds.total, 3, 'a lookup by IDs counts the visible matches in this region only');
      assert.deepEqual(byIds.items.map((i) => i.row.id), ['m-bp1aliceimage00000002'], 'pages over the matches newest first');
      const allByIds = await describeImages(services, { region: R, viewer: ALICE, ids, statuses: ['Available'] }, page);
      assert.deepEqual(allByIds.items.map((i) => i.row.id), ['m-bp1bobimage0000000001', 'm-bp1aliceimage00000002', 'm-bp1aliceimage00000001']);
      assert.deepEqual(allByIds.items.map((i) => [i.disks.length, i.tags.length, i.inUse]), [[1, 0, false], [2, 2, false], [1, 2, true]]);
      assert.deepEqual(allByIds.items[1].disks[1], dataDisk);
      const carolByIds = await describeImages(services, { region: R, viewer: CAROL, ids, statuses: undefined }, page);
      assert.equal(carolByIds.total, 0, 'another account\'s unshared images are not found by ID');

      // Lookups that arrive together run as one statement (services/images/lookups.ts): each still gets its own
      // viewer's, region's and statuses' answer, as it does alone, and an ID named twice comes back once.
      const asked = [
        { region: R, viewer: ALICE, ids, statuses: ['Available'] },
        { region: R, viewer: CAROL, ids, statuses: ['Available'] },
        { region: R, viewer: BOB, ids: [...ids, ids[1]], statuses: ['Available'] },
        { region: 'cn-beijing', viewer: BOB, ids, statuses: ['Available'] },
        { region: R, viewer: BOB, ids, statuses: ['Deprecated'] },
      ];
      const together = await Promise.all(asked.map((f) => describeImages(services, f, page)));
      const alone: string[][] = [];
      for (const f of asked) alone.push((await describeImages(services, f, page)).items.map((i) => i.row.id));
      assert.deepEqual(together.map((r) => r.items.map((i) => i.row.id)), alone);
      assert.deepEqual(alone, [
        ['m-bp1bobimage0000000001', 'm-bp1aliceimage00000002', 'm-bp1aliceimage00000001'],
        [],
        ['m-bp1bobimage0000000001'],
        ['m-2zebobimage0000000002'],
        [],
      ]);
      assert.deepEqual(together[2].items.map((i) => [i.alias, i.isSelfShared]), [['self', true]]);

      const tagged = await describeImages(services, { region: R, viewer: ALICE, tags: [{ key: 'env', value: 'prod' }] }, page);
      assert.deepEqual(tagged.items.map((i) => i.row.id), ['m-bp1aliceimage00000002']);
      assert.deepEqual(tagged.items[0].tags, [{ key: 'app', value: 'web' }, { key: 'env', value: 'prod' }]);
      // A selective filter whose matches lie in several visibility parts (own and shared): counted once each, paged
      // newest first across the parts (on PostgreSQL the parts are one OR there).
      await db.insertInto('tags').values({ resource_id: 'm-bp1bobimage0000000001', resource_type: 'image', tag_key: 'env', tag_value: 'prod' }).execute();
      const prod = { region: R, viewer: ALICE, tags: [{ key: 'env', value: 'prod' }] };
      const both = await describeImages(services, prod, page);
      assert.deepEqual([both.total, both.items.map((i) => [i.row.id, i.alias])], [2, [['m-bp1bobimage0000000001', 'others'], ['m-bp1aliceimage00000002', 'self']]]);
      const second = await describeImages(services, prod, { offset: 1, limit: 1 });
      assert.deepEqual([second.total, second.items.map((i) => i.row.id)], [2, ['m-bp1aliceimage00000002']]);
      assert.equal((await describeImages(services, { ...prod, viewer: CAROL }, page)).total, 0, 'not shared with carol');
      await db.deleteFrom('tags').where('resource_id', '=', 'm-bp1bobimage0000000001').where('tag_key', '=', 'env').execute();
      const bySnapshot = await describeImages(services, { region: R, viewer: ALICE, snapshotId: 's-bp1aliceimage00000001' }, page);
      assert.deepEqual(bySnapshot.items.map((i) => i.row.id), ['m-bp1aliceimage00000001']);
      const like = await describeImages(services, { region: R, viewer: ALICE, name: 'WEB_' }, page);
      assert.equal(like.total, 2, 'substring match, case-insensitive, _ taken literally');
      assert.equal((await describeImages(services, { region: R, viewer: ALICE, name: 'web%' }, page)).total, 0, '% taken literally');

      assert.ok(await findVisibleImage(services, R, 'm-bp1bobimage0000000001', ALICE));
      assert.equal(await findVisibleImage(services, R, 'm-bp1bobimage0000000001', CAROL), undefined);
      const newest = await newestOfFamily(services, R, 'web', ALICE);
      assert.deepEqual([newest?.row.id, newest?.disks.length, newest?.tags.length], ['m-bp1aliceimage00000002', 2, 2]);
      assert.equal((await findVisibleImage(services, R, 'm-bp1aliceimage00000001', ALICE))?.inUse, true);
      assert.equal(await newestOfFamily(services, R, 'web', CAROL), undefined);

      // Only the owner may change an image; others get NotFound, revealing nothing.
      const change = (owner: string, id: string, c: object) => modifyImageAttribute(services, { region: R, imageId: id, owner, change: c });
      await rejects(change(ALICE, 'm-bp1bobimage0000000001', { name: 'stolen' }), 'InvalidImageId.NotFound');
      await rejects(change(ALICE, 'ubuntu_22_04_x64_20G_alibase_20240530.vhd', { name: 'mine_now' }), 'InvalidImageId.NotFound');
      await rejects(change(ALICE, 'm-bp1aliceimage00000001', { name: 'web_next' }), 'InvalidImageName.Duplicated');
      await rejects(change(ALICE, 'm-bp1aliceimage00000001', { name: 'aliyun_x' }), 'InvalidImageName.Malformed');
      await rejects(change(ALICE, 'm-bp1aliceimage00000001', { name: '1abc' }), 'InvalidImageName.Malformed');
      await rejects(change(ALICE, 'm-bp1aliceimage00000001', { description: 'http://x' }), 'InvalidDescription.Malformed');
      await rejects(change(ALICE, 'm-bp1aliceimage00000001', { licenseType: 'Aliyun' }), 'InvalidLicenseType.NotSupported');
      await change(ALICE, 'm-bp1aliceimage00000001', { name: 'web_old', description: 'first build', imdsSupport: 'v2' });
      await rejects(change(ALICE, 'm-bp1aliceimage00000001', { imdsSupport: 'v1' }), 'InvalidOperation.FeaturesImdsSupportNotMatch');
      const row = await db.selectFrom('images').selectAll().where('id', '=', 'm-bp1aliceimage00000001').executeTakeFirstOrThrow();
      assert.deepEqual([row.name, row.description, row.imds_support, row.updated_at], ['web_old', 'first build', 'v2', 5]);

      // Deprecation: newest of family falls back; shared images must be unshared first.
      await change(ALICE, 'm-bp1aliceimage00000002', { status: 'Deprecated' });
      assert.equal((await newestOfFamily(services, R, 'web', ALICE))?.row.id, 'm-bp1aliceimage00000001');
      await rejects(change(BOB, 'm-bp1bobimage0000000001', { status: 'Deprecated' }), 'ImageUseShared');
      await change(ALICE, 'm-bp1aliceimage00000002', { status: 'Available' });
      assert.equal((await newestOfFamily(services, R, 'web', ALICE))?.row.id, 'm-bp1aliceimage00000002');
      await rejects(change(ALICE, 'm-bp1aliceimage00000002', { name: 'x_ok' }).then(() => modifyImageAttribute(services, { region: R, imageId: 'm-bp1aliceimage00000002', owner: ALICE, change: { name: 'y_ok' }, dryRun: true })), 'DryRunOperation');
      assert.equal((await db.selectFrom('images').select('name').where('id', '=', 'm-bp1aliceimage00000002').executeTakeFirstOrThrow()).name, 'x_ok', 'a dry run changes nothing');
    } finally {
      await store.dispose();
    }
  });
}

for (const backend of storeBackends()) {
  test(`${backend.name}: a listing of one's own images by status reads its TotalCount with its page, folding piled-up counts`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    const { db } = store;
    const services = { db, dialect: store.dialect, counts: store.counts, imageLookups: imageLookups(db, store.dialect) };
    try {
      await db.insertInto('accounts').values([ALICE, BOB].map((id) => ({ id, name: id, kind: 'user', created_at: 0 }))).execute();
      // One statement per image: on PostgreSQL each leaves a delta row in image_counts, more than the 32 a reader folds.
      for (let i = 0; i < 40; i++) {
        await insertCustomImage(db, { id: `m-bp1alice${String(i).padStart(13, '0')}`, region: R, owner_id: ALICE, name: `a${i}`, created_at: 1000 + i, status: i % 4 === 0 ? 'Deprecated' : 'Available' });
      }
      await insertCustomImage(db, { id: 'm-bp1bob00000000000000001', region: R, owner_id: BOB, name: 'b', created_at: 5000 });
      const deltas = async () => Number((await db.selectFrom('image_counts').where('owner_id', '=', ALICE).where('status', '=', 'Available').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      const own = { region: R, viewer: ALICE, alias: 'self' as const, statuses: ['Available'] };
      const available = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 4 !== 0).reverse().map((i) => `m-bp1alice${String(i).padStart(13, '0')}`);
      if (store.dialect === 'postgres') assert.equal(await deltas(), 30, 'one delta row per insert');

      const first = await describeImages(services, own, { offset: 0, limit: 10 });
      assert.deepEqual([first.total, first.items.map((v) => v.row.id)], [30, available.slice(0, 10)]);
      assert.ok(first.items.every((v) => v.alias === 'self' && v.disks.length === 1));
      const last = await describeImages(services, own, { offset: 25, limit: 10 });
      assert.deepEqual([last.total, last.items.map((v) => v.row.id)], [30, available.slice(25)]);
      const beyond = await describeImages(services, own, { offset: 30, limit: 10 });
      assert.deepEqual([beyond.total, beyond.items.length], [30, 0], 'a page past the end still counts');

      // Three more writes take PostgreSQL's deltas past 32; the next listing counts them and folds them into one row.
      await db.updateTable('images').set({ status: 'Available' }).where('id', '=', 'm-bp1alice0000000000000').execute();
      await db.deleteFrom('images').where('id', '=', available[0]).execute();
      await db.updateTable('images').set({ status: 'Deprecated' }).where('id', '=', available[1]).execute();
      if (store.dialect === 'postgres') assert.equal(await deltas(), 33);
      const after = await describeImages(services, own, { offset: 0, limit: 2 });
      assert.deepEqual([after.total, after.items.map((v) => v.row.id)], [29, available.slice(2, 4)]);
      assert.equal(await deltas(), 1, 'folded into one row per key');
      assert.equal((await describeImages(services, own, { offset: 0, limit: 1 })).total, 29, 'and still counts the same');
      const deprecated = await describeImages(services, { ...own, statuses: ['Deprecated', 'Available'] }, { offset: 0, limit: 1 });
      assert.equal(deprecated.total, 39, 'the 40 made less the one deleted');
      assert.equal((await describeImages(services, { ...own, viewer: BOB }, { offset: 0, limit: 5 })).total, 1, 'another owner counts its own');
    } finally {
      await store.dispose();
    }
  });
}
