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

for (const backend of storeBackends()) {
  test(`${backend.name}: prepared queries go on answering after another node adds a column`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const { db } = store;
      await db.insertInto('accounts').values({ id: '1', name: 'n1', kind: 'user', created_at: 1 }).execute();
      // On PostgreSQL the first is a named statement; the second, whose result is `*`, must stay unnamed: a prepared
      // `*` would fail once the table has another column ("cached plan must not change result type").
      const listed = prepared((d: Kysely<Database>, id: string) => d.selectFrom('accounts').select(['id', 'name']).where('id', '=', id));
      const every = prepared((d: Kysely<Database>, id: string) => d.selectFrom('accounts').selectAll().where('id', '=', id));
      for (let i = 0; i < 3; i++) {
        assert.equal((await listed(db, '1'))[0].name, 'n1');
        assert.equal((await every(db, '1'))[0].name, 'n1');
      }
      await sql`alter table accounts add column added_by_a_newer_node integer not null default 7`.execute(db);
      assert.deepEqual(await listed(db, '1'), [{ id: '1', name: 'n1' }]);
      assert.equal(((await every(db, '1'))[0] as Record<string, unknown>).added_by_a_newer_node, 7);
    } finally {
      await store.dispose();
    }
  });
}
