/**
 * Keystone token checks (services/identity/tokens.ts tokenLookups): on PostgreSQL the checks of concurrent requests
 * share a statement. Each must get its own token's row, a revoked token must come back revoked, and a system
 * account's or an unknown token nothing, on both engines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenLookups } from '../../src/services/identity/tokens.ts';
import { storeBackends } from '../support/stores.ts';

for (const backend of storeBackends()) {
  test(`${backend.name}: token checks asked together each get their own token's row`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const { db } = store;
      await db.insertInto('accounts').values([
        { id: '1000000000000001', name: 'alice', kind: 'user', created_at: 1, is_admin: 1 },
        { id: '1000000000000002', name: 'bob 位', kind: 'user', created_at: 1, is_admin: 0 },
        { id: '1000000000000009', name: 'system', kind: 'system', created_at: 1, is_admin: 0 },
      ]).execute();
      const token = (hash: string, account: string, revoked = 0) => ({
        token_hash: hash, account_id: account, methods: 'password', audit_id: `audit-${hash}`, access_key_id: '', issued_at: 10, expires_at: 2 ** 41, revoked,
      });
      await db.insertInto('os_tokens').values([token('h-alice', '1000000000000001'), token('h-bob', '1000000000000002'), token('h-revoked', '1000000000000002', 1), token('h-system', '1000000000000009')]).execute();

      const tokens = tokenLookups(db, store.dialect);
      const asked = ['h-alice', 'h-bob', 'h-alice', 'h-revoked', 'h-system', 'h-unknown'];
      const together = await Promise.all(asked.map((hash) => tokens(hash)));
      assert.deepEqual(together.map((t) => t && [t.token_hash, t.account_name, Number(t.revoked), Number(t.account_is_admin ?? 0)]), [
        ['h-alice', 'alice', 0, 1], ['h-bob', 'bob 位', 0, 0], ['h-alice', 'alice', 0, 1], ['h-revoked', 'bob 位', 1, 0], undefined, undefined,
      ]);
      assert.equal(together[0]!.expires_at, 2 ** 41);
      // A revocation committed before a check is asked is in its answer.
      await db.updateTable('os_tokens').set({ revoked: 1 }).where('token_hash', '=', 'h-alice').execute();
      assert.equal(Number((await tokens('h-alice'))!.revoked), 1);
    } finally {
      await store.dispose();
    }
  });
}
