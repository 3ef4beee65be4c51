/**
 * The grouped lookups by key on PostgreSQL (DescribeImages by ID, Glance GET, Keystone token checks) must read the rows
 * they name and no others, also when the planner has no statistics: a database just loaded or restored, before
 * autovacuum's first ANALYZE. Each key's row is found through its index (`rowByKey`); planned as a join, the lookup by
 * ID read every image the viewer could see on each call. Rows read are PostgreSQL's own count for the transaction
 * (`pg_stat_xact_user_tables`: rows read by sequential scans plus rows fetched through indexes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.ts';
import { imageLookups } from '../../src/services/images/lookups.ts';
import { glanceLookups } from '../../src/services/glance/rows.ts';
import { tokenLookups } from '../../src/services/identity/tokens.ts';
import { storeBackends } from '../support/stores.ts';
import { insertCustomImages } from '../support/images.ts';

const ALICE = '1000000000000001';
const R = 'cn-hangzhou';
const ROWS = 3000;
const imageId = (i: number) => `m-bp1${String(i).padStart(19, '0')}`;
const tokenHash = (i: number) => `hash-${i}`;
const postgres = storeBackends().find((b) => b.name === 'postgres')!;

/**
 * What `run` read of each table, by PostgreSQL's count. Taken before and after inside one transaction: the counts are
 * the backend's not yet reported, which may still hold earlier transactions' (reports wait for the backend to be idle).
 */
async function rowsRead(db: Kysely<Database>, run: (trx: Kysely<Database>) => Promise<void>): Promise<Record<string, number>> {
  const counts = async (trx: Kysely<Database>) => {
    const { rows } = await sql<{ relname: string; n: string }>`select relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) as n from pg_stat_xact_user_tables`.execute(trx);
    return new Map(rows.map((r) => [r.relname, Number(r.n)]));
  };
  return db.transaction().execute(async (trx) => {
    const before = await counts(trx);
    await run(trx);
    return Object.fromEntries([...await counts(trx)].map(([table, n]) => [table, n - (before.get(table) ?? 0)]));
  });
}

test('postgres: grouped lookups by ID and token read only the rows they name, without planner statistics', { skip: postgres.skip }, async () => {
  const store = await postgres.open();
  try {
    const { db } = store;
    for (const table of ['images', 'image_disks', 'os_tokens', 'accounts']) await sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`.execute(db);
    await db.insertInto('accounts').values({ id: ALICE, name: 'alice', kind: 'user', created_at: 1, is_admin: 0 }).execute();
    await insertCustomImages(db, Array.from({ length: ROWS }, (_, i) => ({ id: imageId(i), region: R, owner_id: ALICE, name: `img${i}`, created_at: i })));
    await db.insertInto('os_tokens').values(Array.from({ length: ROWS }, (_, i) => ({
      token_hash: tokenHash(i), account_id: ALICE, methods: 'password', audit_id: `audit-${i}`, access_key_id: '', issued_at: 10, expires_at: 2 ** 41, revoked: 0,
    }))).execute();
    const analysed = await sql<{ n: string }>`select count(*) as n from pg_stats where tablename in ('images', 'os_tokens')`.execute(db);
    assert.equal(Number(analysed.rows[0].n), 0, 'the planner has no statistics for these tables');
    const named = [7, 1500, 2999];

    const ecs = await rowsRead(db, async (trx) => {
      const lookup = imageLookups(trx, 'postgres');
      const found = await Promise.all(named.map((i) => lookup({ region: R, viewer: ALICE, ids: [imageId(i)], statuses: ['Available'] })));
      assert.deepEqual(found.map((views) => views.map((v) => v.row.id)), named.map((i) => [imageId(i)]));
    });
    assert.ok(ecs.images <= named.length, `DescribeImages by ID read ${ecs.images} image rows for ${named.length} IDs`);

    const glance = await rowsRead(db, async (trx) => {
      const lookup = glanceLookups(trx, 'postgres');
      const found = await Promise.all([...named.map(imageId), 'm-bp1missing'].map((id) => lookup(R, id)));
      assert.deepEqual(found.map((f) => f?.image.id), [...named.map(imageId), undefined]);
    });
    assert.ok(glance.images <= named.length, `Glance GET read ${glance.images} image rows for ${named.length} IDs`);

    const keystone = await rowsRead(db, async (trx) => {
      const check = tokenLookups(trx, 'postgres');
      const found = await Promise.all(named.map((i) => check(tokenHash(i))));
      assert.deepEqual(found.map((t) => t?.token_hash), named.map(tokenHash));
    });
    assert.ok(keystone.os_tokens <= named.length, `token checks read ${keystone.os_tokens} token rows for ${named.length} tokens`);
  } finally {
    await store.dispose();
  }
});
