/** The store's PostgreSQL sessions: every pooled connection runs without JIT and parallel workers (docs/decisions.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from 'kysely';
import { storeBackends } from '../support/stores.ts';

const postgres = storeBackends().find((b) => b.name === 'postgres')!;
const SETTINGS = `select current_setting('jit') as jit, current_setting('max_parallel_workers_per_gather') as workers`;

test('postgres: every connection of the store runs without JIT and parallel workers, whatever the database says', { skip: postgres.skip }, async () => {
  const store = await postgres.open();
  try {
    // The database turns both on for every session, as a server's defaults do; a plain connection gets them.
    const admin = new pg.Client({ connectionString: store.url });
    await admin.connect();
    try {
      const [{ db }] = (await admin.query<{ db: string }>('select current_database() as db')).rows;
      await admin.query(`alter database "${db}" set jit = on`);
      await admin.query(`alter database "${db}" set max_parallel_workers_per_gather = 2`);
    } finally {
      await admin.end();
    }
    const plain = new pg.Client({ connectionString: store.url });
    await plain.connect();
    try {
      assert.deepEqual((await plain.query(SETTINGS)).rows[0], { jit: 'on', workers: '2' });
    } finally {
      await plain.end();
    }
    // Held open together, the statements run on as many pooled connections (the one opened before the change too).
    const seen = await Promise.all(Array.from({ length: 4 }, () =>
      store.db.transaction().execute(async (tx) => {
        const [row] = (await sql<{ jit: string; workers: string; pid: number }>`${sql.raw(SETTINGS)}, pg_backend_pid() as pid, pg_sleep(0.05)`.execute(tx)).rows;
        return row;
      })));
    assert.equal(new Set(seen.map((s) => s.pid)).size, 4, 'four connections');
    assert.deepEqual(seen.map((s) => [s.jit, s.workers]), Array(4).fill(['off', '0']));
  } finally {
    await store.dispose();
  }
});
