/**
 * Planner statistics on PostgreSQL: opening the store (each node's start, each admin command) analyses the tables that
 * hold rows and were never analysed (a restored database), and no others; `optimize()` analyses every table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { openStore } from '../../src/store/db.ts';
import type { Database } from '../../src/store/schema.ts';
import { freshPostgresDatabase, postgresBaseUrl, storeBackends } from '../support/stores.ts';
import { insertCustomImages } from '../support/images.ts';

const postgres = storeBackends().find((b) => b.name === 'postgres')!;

/** Tables a manual ANALYZE has reached (autovacuum's own runs are `last_autoanalyze`). */
async function analysed(db: Kysely<Database>, tables: string[]): Promise<Record<string, boolean>> {
  const { rows } = await sql<{ relname: string; done: boolean }>`select relname, last_analyze is not null as done from pg_stat_user_tables
    where relname in (${sql.join(tables)})`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.relname, r.done]));
}

test('postgres: opening the store analyses the tables that hold rows and were never analysed, only those', { skip: postgres.skip }, async () => {
  const { url, drop } = await freshPostgresDatabase(postgresBaseUrl()!);
  try {
    const first = await openStore({ databaseUrl: url });
    await first.db.insertInto('accounts').values({ id: '1000000000000001', name: 'alice', kind: 'user', created_at: 1, is_admin: 0 }).execute();
    await insertCustomImages(first.db, Array.from({ length: 20 }, (_, i) => ({ id: `m-bp1${String(i).padStart(19, '0')}`, region: 'cn-hangzhou', owner_id: '1000000000000001', name: `i${i}` })));
    await first.close(); // its backends exit, which reports their row counts
    const tables = ['accounts', 'images', 'image_disks', 'tags', 'image_shares'];
    const reopened = await openStore({ databaseUrl: url });
    try {
      assert.deepEqual(await analysed(reopened.db, tables), { accounts: true, images: true, image_disks: true, tags: false, image_shares: false });
      await reopened.optimize();
      assert.deepEqual(await analysed(reopened.db, tables), { accounts: true, images: true, image_disks: true, tags: true, image_shares: true });
    } finally {
      await reopened.close();
    }
  } finally {
    await drop();
  }
});
