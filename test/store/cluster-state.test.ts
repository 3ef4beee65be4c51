/**
 * State that several nodes share through the metadata store (issue 14): console sessions, and limits checked
 * under concurrent calls. PostgreSQL runs the calls on separate connections, as separate nodes would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { openStore } from '../../src/store/db.ts';
import type { Database } from '../../src/store/schema.ts';
import { kyselySessionStore, SESSION_TTL_MS } from '../../src/store/sessions.ts';
import { modifySharePermission, MAX_SHARES_PER_IMAGE } from '../../src/services/images/share.ts';
import { insertImage } from '../../src/services/images/rows.ts';
import { ApiError } from '../../src/domain/errors.ts';
import { freshPostgresDatabase, postgresBaseUrl, storeBackends } from '../support/stores.ts';
import { insertCustomImage } from '../support/images.ts';
import { requires } from '../support/requires.ts';

const OWNER = '1000000000000001';
const R = 'cn-hangzhou';

async function addAccounts(db: Kysely<Database>, ids: string[]): Promise<void> {
  await db.insertInto('accounts').values(ids.map((id) => ({ id, name: `a${id}`, kind: 'user', created_at: 0 }))).execute();
}

/** Settles every call; returns how many succeeded and the codes of the failures. */
async function settle(calls: Promise<unknown>[]): Promise<{ ok: number; codes: string[] }> {
  const results = await Promise.allSettled(calls);
  const codes = results.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof ApiError ? r.reason.code : String(r.reason)] : []));
  return { ok: results.length - codes.length, codes };
}

for (const backend of storeBackends()) {
  test(`${backend.name}: console sessions live in the store, keyed by a hash, until they expire or sign out`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      let now = 1_000_000;
      const clock = { now: () => now };
      const sessions = kyselySessionStore(store.db, clock);
      const s = await sessions.create(OWNER, 'LTAI-key');
      const row = await store.db.selectFrom('console_sessions').selectAll().executeTakeFirstOrThrow();
      assert.notEqual(row.id_hash, s.id, 'the cookie value is not stored');
      assert.deepEqual(await sessions.get(s.id), s);
      assert.equal(await sessions.get(s.id + 'x'), undefined);
      assert.equal(await sessions.get(undefined), undefined);
      now += SESSION_TTL_MS;
      assert.equal(await sessions.get(s.id), undefined, 'expired');
      now = 1_000_000;
      await sessions.delete(s.id);
      assert.equal(await sessions.get(s.id), undefined, 'signed out');
    } finally {
      await store.dispose();
    }
  });

  test(`${backend.name}: the share cap holds under concurrent ModifyImageSharePermission calls`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const services = { db: store.db, clock: { now: () => 5 } };
      const grantees = Array.from({ length: 60 }, (_, i) => String(2000000000000000 + i));
      await addAccounts(store.db, [OWNER, ...grantees]);
      await insertCustomImage(store.db, { id: 'm-bp1sharedimage0000001', region: R, owner_id: OWNER, name: 'shared' });
      // Six calls of ten new accounts each: each alone fits under the cap, all together do not.
      const calls = Array.from({ length: 6 }, (_, k) => modifySharePermission(services, {
        region: R, imageId: 'm-bp1sharedimage0000001', owner: OWNER, add: grantees.slice(k * 10, k * 10 + 10), remove: [],
      }));
      const { ok, codes } = await settle(calls);
      assert.equal(ok, MAX_SHARES_PER_IMAGE / 10);
      assert.deepEqual(codes, ['QuotaExceed.ShareImageUser']);
      const { n } = await store.db.selectFrom('image_shares').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(n), MAX_SHARES_PER_IMAGE);
    } finally {
      await store.dispose();
    }
  });

  test(`${backend.name}: the image quota holds under concurrent creates`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      await addAccounts(store.db, [OWNER]);
      const quota = 3;
      const calls = Array.from({ length: 8 }, (_, k) => store.db.transaction().execute((trx) =>
        insertImage(trx, { id: `m-bp1quota00000000000${k}`, region: R, owner_id: OWNER, name: `img${k}` }, [], [], 5, quota)));
      const { ok, codes } = await settle(calls);
      assert.equal(ok, quota);
      assert.deepEqual(new Set(codes), new Set(['QuotaExceed.Image']));
    } finally {
      await store.dispose();
    }
  });
}

test('postgres: a session made on one node signs in on another; nodes starting together migrate once', { skip: requires('postgres') }, async () => {
  const { url, drop } = await freshPostgresDatabase(postgresBaseUrl()!);
  const nodes = await Promise.all(Array.from({ length: 4 }, () => openStore({ databaseUrl: url })));
  try {
    // Kysely's migrator takes a PostgreSQL advisory lock: the first node migrates, the others find nothing to do.
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(nodes[0].db);
    assert.equal(new Set(rows.map((r) => r.name)).size, rows.length, 'each migration ran once');
    assert.ok(rows.some((r) => r.name === '0009_cluster'));
    const clock = { now: () => Date.now() };
    const s = await kyselySessionStore(nodes[1].db, clock).create(OWNER, 'LTAI-key');
    assert.equal((await kyselySessionStore(nodes[2].db, clock).get(s.id))?.csrfToken, s.csrfToken);
    await kyselySessionStore(nodes[3].db, clock).delete(s.id);
    assert.equal(await kyselySessionStore(nodes[1].db, clock).get(s.id), undefined, 'signing out on one node signs out everywhere');
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    await drop();
  }
});
