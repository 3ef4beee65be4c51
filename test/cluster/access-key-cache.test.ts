/**
 * Nodes keep the AccessKeys they read in memory (services/access-key-cache.ts), and a key changed elsewhere stops
 * working on them anyway. PostgreSQL: two nodes on one database; a key rotated or deleted through node B (its
 * trigger notifies) is refused by node A, which had it in memory, and a change whose notification never came is
 * refused once the entry's time runs out. SQLite: the server and an administrative command's connection to the
 * same file (the deployment SQLite supports); the server refuses a key changed through the other connection at once.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import type { NewAccount } from '../../src/services/accounts.ts';
import { ACCESS_KEY_TTL_MS } from '../../src/services/access-key-cache.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { postgresBaseUrl } from '../support/stores.ts';
import { requires } from '../support/requires.ts';
import { v1SignedQuery } from '../support/v1.ts';
import { waitFor } from '../support/wait.ts';

type Keys = Pick<NewAccount, 'accessKeyId' | 'accessKeySecret'>;

/** 'ok', or the error code of a signed DescribeRegions with these keys. */
async function call(node: TestServer, keys: Keys): Promise<string> {
  const res = await fetch(node.endpoint + v1SignedQuery(keys, { Action: 'DescribeRegions' }));
  const body = (await res.json()) as { Code?: string };
  return res.ok ? 'ok' : body.Code ?? String(res.status);
}

/** Seals a new secret for the key through `store` (another node's pool, or another connection to the file). */
async function rotate(server: TestServer, store: Store, keys: Keys): Promise<Keys> {
  const accessKeySecret = crypto.randomBytes(15).toString('base64');
  await store.db.updateTable('access_keys').set({ secret_enc: server.app.services.secrets.seal(accessKeySecret) }).where('id', '=', keys.accessKeyId).execute();
  return { accessKeyId: keys.accessKeyId, accessKeySecret };
}

let shift = 0;
const clock = { now: () => Date.now() + shift };

test('postgres: a key rotated or deleted on node B stops working on node A, which had it in memory', { skip: requires('postgres') }, async () => {
  // Nodes of one cluster share the master key and the database.
  const env = { IMAGEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('hex') };
  const a = await startServer({ postgresBaseUrl: postgresBaseUrl(), env, clock });
  const b = await startServer({ databaseUrl: a.databaseUrl, env, clock });
  try {
    const first = await a.account('alice');
    assert.equal(await call(a, first), 'ok');
    assert.equal(await call(b, first), 'ok');

    const second = await rotate(a, b.app.store, first);
    await waitFor(async () => (await call(a, first)) === 'SignatureDoesNotMatch', { what: 'node A to refuse the old secret', timeoutMs: 5_000 });
    assert.equal(await call(a, second), 'ok');

    // A change that notifies nobody (the trigger off stands for a lost notification) holds only until the entry expires.
    await sql`alter table access_keys disable trigger access_keys_changed`.execute(b.app.store.db);
    const third = await rotate(a, b.app.store, second);
    await sql`alter table access_keys enable trigger access_keys_changed`.execute(b.app.store.db);
    assert.equal(await call(a, second), 'ok', 'node A still uses the secret it read');
    shift += ACCESS_KEY_TTL_MS;
    assert.equal(await call(a, second), 'SignatureDoesNotMatch');
    assert.equal(await call(a, third), 'ok');

    await b.app.store.db.deleteFrom('access_keys').where('id', '=', first.accessKeyId).execute();
    await waitFor(async () => (await call(a, third)) === 'InvalidAccessKeyId.NotFound', { what: 'node A to refuse the deleted key', timeoutMs: 5_000 });

    // A key made on B after A looked for it and found nothing works on A at once: misses are not kept.
    const lookedFor = { accessKeyId: 'LTAInotyetmade000000', accessKeySecret: 'x' };
    assert.equal(await call(a, lookedFor), 'InvalidAccessKeyId.NotFound');
    const bob = await b.account('bob');
    assert.equal(await call(a, bob), 'ok');
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('sqlite: a key rotated or deleted through another connection to the file stops working at once', async () => {
  const server = await startServer({ clock });
  const admin = await openStore({ sqlitePath: path.join(server.dataDir, 'imagehouse.db') });
  try {
    const first = await server.account('alice');
    assert.equal(await call(server, first), 'ok');

    const second = await rotate(server, admin, first);
    assert.equal(await call(server, first), 'SignatureDoesNotMatch');
    assert.equal(await call(server, second), 'ok');

    // The server's own writes count too.
    const third = await rotate(server, server.app.store, second);
    assert.equal(await call(server, second), 'SignatureDoesNotMatch');
    assert.equal(await call(server, third), 'ok');

    await admin.db.deleteFrom('access_keys').where('id', '=', first.accessKeyId).execute();
    assert.equal(await call(server, third), 'InvalidAccessKeyId.NotFound');
  } finally {
    await admin.close();
    await server.stop();
  }
});
