import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../src/store/db.ts';
import { CountCache, uncachedCounts } from '../../src/store/count-cache.ts';
import { describeImages } from '../../src/services/images/describe.ts';
import { imageLookups } from '../../src/services/images/lookups.ts';
import { insertCustomImage } from '../support/images.ts';
import { requires } from '../support/requires.ts';

const ALICE = '1000000000000001';
const BOB = '1000000000000002';
const servicesOf = (store: Store) => ({ db: store.db, dialect: store.dialect, counts: store.counts, imageLookups: imageLookups(store.db, store.dialect) });

test('SQLite: listing counts are cached until a write to a table they depend on, and never go stale', async () => {
  const store = await openStore({ sqlitePath: ':memory:' });
  try {
    const db = store.db;
    assert.ok(store.counts instanceof CountCache, 'the embedded store keeps a count cache');
    const count = async (viewer = ALICE) => (await describeImages(servicesOf(store), { region: 'r', viewer, alias: undefined, statuses: ['Available'] }, { offset: 0, limit: 1 })).total;
    await insertCustomImage(db, { id: 'm-1', region: 'r', owner_id: ALICE, name: 'one' });
    assert.equal(await count(), 1);
    await insertCustomImage(db, { id: 'm-2', region: 'r', owner_id: ALICE, name: 'two' });
    assert.equal(await count(), 2, 'an insert into images invalidates');
    await db.updateTable('images').set({ status: 'Deprecated' }).where('id', '=', 'm-2').execute();
    assert.equal(await count(), 1, 'an update invalidates');
    await insertCustomImage(db, { id: 'm-3', region: 'r', owner_id: BOB, name: 'bobs' });
    assert.equal(await count(), 1);
    await db.insertInto('image_shares').values({ image_id: 'm-3', account_id: ALICE, created_at: 0 }).execute();
    assert.equal(await count(), 2, 'a share invalidates');
    await db.deleteFrom('image_shares').execute();
    assert.equal(await count(), 1, 'an unshare invalidates');
    await db.insertInto('nonces').values({ nonce: 'n', expires_at: 0 }).execute();
    assert.equal(await count(BOB), 1);
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('images').where('id', '=', 'm-1').execute();
      await trx.deleteFrom('image_disks').where('image_id', '=', 'm-1').execute();
    });
    assert.equal(await count(), 0, 'a delete in a transaction invalidates');
  } finally {
    await store.close();
  }
});

test('PostgreSQL stores keep no count cache (several processes may write)', { skip: requires('postgres') }, async () => {
  const { freshPostgresDatabase } = await import('../support/stores.ts');
  const { url, drop } = await freshPostgresDatabase(process.env.IMAGEHOUSE_TEST_DATABASE_URL!);
  const store = await openStore({ databaseUrl: url });
  try {
    assert.equal(store.counts, uncachedCounts);
  } finally {
    await store.close();
    await drop();
  }
});
