/** The store's PostgreSQL sessions: every pooled connection runs without JIT and parallel workers (docs/decisions.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { storeBackends } from '../support/stores.ts';

const postgres = storeBackends().find((b) => b.name === 'postgres')!;

test('postgres: every connection of the store runs without JIT and parallel workers, which the server itself has on', { skip: postgres.skip }, async () => {
  const store = await postgres.open();
  try {
    // Held open together, the statements run on as many pooled connections.
    const settings = await Promise.all(Array.from({ length: 4 }, () =>
      store.db.transaction().execute(async (tx) => {
        const [{ jit, workers, pid }] = (await sql<{ jit: string; workers: string; pid: number }>`select current_setting('jit') as jit,
          current_setting('max_parallel_workers_per_gather') as workers, pg_backend_pid() as pid, pg_sleep(0.05)`.execute(tx)).rows;
        return { jit, workers, pid };
      })));
    assert.equal(new Set(settings.map((s) => s.pid)).size, 4, 'four connections');
    assert.deepEqual(settings.map((s) => [s.jit, s.workers]), Array(4).fill(['off', '0']));
    // The server's default, seen by a connection of its own: the store's setting is what turns it off.
    const { Client } = (await import('pg')).default;
    const plain = new Client({ connectionString: store.url });
    await plain.connect();
    try {
      const { rows } = await plain.query(`select current_setting('jit') as jit, current_setting('max_parallel_workers_per_gather') as workers`);
      assert.deepEqual(rows[0], { jit: 'on', workers: '2' });
    } finally {
      await plain.end();
    }
  } finally {
    await store.dispose();
  }
});
