/** Prepared queries (store/prepared.ts): built once per shape, then bound with each call's values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { prepared } from '../../src/store/prepared.ts';
import type { Database } from '../../src/store/schema.ts';
import { storeBackends } from '../support/stores.ts';

for (const backend of storeBackends()) {
  test(`${backend.name}: a prepared query answers each call with its own values, for every list length`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const { db } = store;
      await db.insertInto('accounts').values(['1', '2', '3'].map((id) => ({ id, name: `n${id}`, kind: 'user', created_at: Number(id) }))).execute();
      const named = prepared((d: Kysely<Database>, kind: 'user' | 'system', ids: string[]) =>
        d.selectFrom('accounts').select('name').where('kind', '=', kind).where('id', 'in', ids).orderBy('id'));
      assert.deepEqual((await named(db, 'user', ['1'])).map((r) => r.name), ['n1']);
      assert.deepEqual((await named(db, 'user', ['2', '3'])).map((r) => r.name), ['n2', 'n3']);
      assert.deepEqual((await named(db, 'user', ['3'])).map((r) => r.name), ['n3'], 'the same shape again, other values');
      assert.deepEqual(await named(db, 'system', ['1', '2']), []);

      const inlined = prepared((d: Kysely<Database>, id: string) => d.selectFrom('accounts').select('name').where('id', '=', sql.lit(id)));
      await assert.rejects(inlined(db, '1'), /binds 0 of its 1 values/, 'a value written into the SQL cannot be re-bound');
    } finally {
      await store.dispose();
    }
  });
}
