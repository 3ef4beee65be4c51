/**
 * The nonce window under group commit: two nonce stores on one database stand for two nodes. A nonce is fresh
 * exactly once across both, also when both ask in the same batch or at the same moment, and again after it expires.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kyselyNonceStore } from '../../src/store/nonces.ts';
import { openStore } from '../../src/store/db.ts';
import { storeBackends } from '../support/stores.ts';

for (const backend of storeBackends()) {
  test(`${backend.name}: a nonce is fresh once across nodes, once per batch, and again after its window`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    // PostgreSQL: the second node has its own connection pool, as another process would.
    const other = backend.name === 'postgres' ? await openStore({ databaseUrl: store.url }) : store;
    try {
      let now = 1_000;
      const clock = { now: () => now };
      const a = kyselyNonceStore(store.db, clock);
      const b = kyselyNonceStore(other.db, clock);

      assert.equal(await a.use('k:1', 5_000), true);
      assert.equal(await b.use('k:1', 5_000), false, 'used on node A, refused on node B');
      assert.equal(await a.use('k:1', 5_000), false, 'refused on the node that saw it too');

      // Same batch on one node: the first asker wins; the other keys of the batch are unaffected.
      const batch = await Promise.all([a.use('k:2', 5_000), a.use('k:2', 5_000), a.use('k:3', 5_000)]);
      assert.deepEqual(batch, [true, false, true]);

      // Both nodes at once, many keys: each key is fresh on exactly one of them.
      const keys = Array.from({ length: 300 }, (_, i) => `race:${i}`);
      const answers = await Promise.all(keys.flatMap((k) => [a.use(k, 5_000), b.use(k, 5_000)]));
      for (let i = 0; i < keys.length; i++) assert.equal(Number(answers[2 * i]) + Number(answers[2 * i + 1]), 1, keys[i]);

      // After its window a nonce may be used again, once.
      now = 6_000;
      const reuse = await Promise.all([b.use('k:1', 20_000), a.use('k:1', 20_000)]);
      assert.deepEqual(reuse.filter(Boolean).length, 1);
      assert.equal(await a.use('k:3', 20_000), true);
      assert.equal(await b.use('k:3', 20_000), false);
    } finally {
      if (other !== store) await other.close();
      await store.dispose();
    }
  });
}

test('the requests of one batch go on in turns of their own, not all inside the batch\'s callback', async () => {
  const store = await storeBackends()[0].open();
  try {
    const nonces = kyselyNonceStore(store.db, { now: () => 1_000 });
    // A nextTick queued by the first waiter runs before the second waiter goes on only if they are separate
    // callbacks; resolved together, every waiter would run first (on SQLite each runs its queries synchronously,
    // so a large batch would hold the event loop for all of them).
    const order: string[] = [];
    await Promise.all(['a', 'b', 'c'].map(async (k) => {
      await nonces.use(`turns:${k}`, 5_000);
      order.push(k);
      process.nextTick(() => order.push(`${k}:tick`));
    }));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['a', 'a:tick', 'b', 'b:tick', 'c', 'c:tick']);
  } finally {
    await store.dispose();
  }
});
