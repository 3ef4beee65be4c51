import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeBackends } from '../support/stores.ts';

for (const backend of storeBackends()) {
  test(`${backend.name}: migrations create the schema and are idempotent`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const row = await store.db.insertInto('accounts').values({ id: '1234567890123456', name: 'x', kind: 'user', created_at: Date.now() }).returningAll().executeTakeFirstOrThrow();
      assert.equal(row.id, '1234567890123456');
      await store.db.insertInto('manifests').values({ id: 'mf-1', region: 'cn-hangzhou', virtual_size: 2 ** 40, body: '[]', holders: 0, created_at: Date.now() }).execute();
      const m = await store.db.selectFrom('manifests').select('virtual_size').executeTakeFirstOrThrow();
      assert.equal(m.virtual_size, 2 ** 40, 'bigint columns come back as numbers on every backend');
    } finally {
      await store.dispose();
    }
  });
}
