/**
 * PostgreSQL: several processes' worth of workers (separate pools on one database) never claim a job twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/db.ts';
import { JobQueue, startWorker, type JobRow } from '../../src/jobs/index.ts';
import { freshPostgresDatabase, postgresBaseUrl } from '../support/stores.ts';
import { waitFor } from '../support/wait.ts';
import { requires } from '../support/requires.ts';

const base = postgresBaseUrl();
const skip = requires('postgres');

async function withStores(n: number, fn: (stores: Store[]) => Promise<void>): Promise<void> {
  const { url, drop } = await freshPostgresDatabase(base!);
  const stores: Store[] = [];
  try {
    for (let i = 0; i < n; i++) stores.push(await openStore({ databaseUrl: url }));
    await fn(stores);
  } finally {
    for (const s of stores) await s.close();
    await drop();
  }
}

async function enqueueMany(q: JobQueue, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await q.enqueue(q.db, { id: `t-${String(i).padStart(4, '0')}`, kind: 'work', region: 'cn-hangzhou', accountId: '1234567890123456' });
  }
}

test('postgres: 4 workers on separate pools run each of 200 jobs exactly once', { skip }, async () => {
  await withStores(4, async (stores) => {
    await sql`create table runs (job_id varchar(64) not null, owner varchar(64) not null)`.execute(stores[0].db);
    const queues = stores.map((s) => new JobQueue(s.db, s.dialect));
    await enqueueMany(queues[0], 200);
    const workers = queues.map((queue, w) => startWorker({
      queue, owner: `w${w}`, leaseMs: 5000, pollMs: 5, concurrency: 3,
      handlers: {
        work: async (job: JobRow) => {
          await sql`insert into runs (job_id, owner) values (${job.id}, ${job.lease_owner})`.execute(queue.db);
          await new Promise((r) => setTimeout(r, Math.random() * 4));
        },
      },
    }));
    try {
      await waitFor(async () => (await queues[0].list({ accountId: '1234567890123456', region: 'cn-hangzhou', states: ['succeeded'], limit: 1 })).total === 200, { intervalMs: 50 });
    } finally {
      for (const w of workers) await w.stop();
    }
    const { rows } = await sql<{ runs: number; jobs: number }>`select count(*)::int as runs, count(distinct job_id)::int as jobs from runs`.execute(stores[0].db);
    assert.deepEqual(rows[0], { runs: 200, jobs: 200 }, 'no job ran twice');
    const attempts = await stores[0].db.selectFrom('jobs').select('attempts').distinct().execute();
    assert.deepEqual(attempts.map((a) => a.attempts), [1], 'no job was claimed twice');
    const byWorker = await sql<{ w: string }>`select distinct split_part(owner, '#', 1) as w from runs`.execute(stores[0].db);
    assert.ok(byWorker.rows.length >= 2, 'the work was shared');
  });
});

test('postgres: racing claims from 4 pools hand out every job to exactly one claimer', { skip }, async () => {
  await withStores(4, async (stores) => {
    // Nothing completes here, so the per-account running limit is lifted: this is about double claims.
    const queues = stores.map((s) => new JobQueue(s.db, s.dialect, undefined, { maxRunningPerAccount: 1_000 }));
    await enqueueMany(queues[0], 200);
    const claimed: string[] = [];
    // 4 claimers per pool, each claiming until the queue is empty.
    await Promise.all(queues.flatMap((q, p) => Array.from({ length: 4 }, async (_, c) => {
      for (let n = 0; ; n++) {
        const job = await q.claim(`p${p}c${c}#${n}`, 60_000);
        if (!job) return;
        claimed.push(job.id);
      }
    })));
    assert.equal(claimed.length, 200);
    assert.equal(new Set(claimed).size, 200, '0 double claims');
  });
});
