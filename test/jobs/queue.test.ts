import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.ts';
import { disposeStore } from './helpers.ts';
import { storeBackends, type TestStore } from '../support/stores.ts';
import { JobQueue, ATTEMPTS_EXHAUSTED, NODE_STOPPED, parseJson, type JobRow } from '../../src/jobs/index.ts';

const ACCOUNT = '1234567890123456';

function fakeClock(start = 1_700_000_000_000) {
  return { t: start, now() { return this.t; }, advance(ms: number) { this.t += ms; } };
}

async function withQueue(
  backend: ReturnType<typeof storeBackends>[number],
  fn: (q: JobQueue, clock: ReturnType<typeof fakeClock>, store: TestStore, finished: JobRow[]) => Promise<void>,
) {
  const store = await backend.open();
  const clock = fakeClock();
  const finished: JobRow[] = [];
  const q = new JobQueue(store.db, store.dialect, clock, { onFinished: async (_trx, job) => { finished.push(job); } });
  try {
    await fn(q, clock, store, finished);
  } finally {
    await disposeStore(store);
  }
}

const job = (extra: Record<string, unknown> = {}) => ({ kind: 'ImportImage', region: 'cn-hangzhou', accountId: ACCOUNT, resourceId: 'm-1', payload: { a: 1 }, ...extra });

for (const backend of storeBackends()) {
  const t = (name: string, fn: Parameters<typeof withQueue>[1]) =>
    test(`${backend.name}: ${name}`, { skip: backend.skip }, () => withQueue(backend, fn));

  t('enqueue, claim and complete', async (q, clock, _s, finished) => {
    const queued = await q.enqueue(q.db, job());
    assert.match(queued.id, /^t-[0-9a-z]{20}$/);
    assert.equal(queued.state, 'queued');
    assert.deepEqual(parseJson(queued.payload), { a: 1 });

    const claimed = await q.claim('w1', 1000);
    assert.equal(claimed?.id, queued.id);
    assert.equal(claimed.state, 'running');
    assert.equal(claimed.attempts, 1);
    assert.equal(claimed.lease_owner, 'w1');
    assert.equal(claimed.lease_until, clock.now() + 1000);
    assert.equal(await q.claim('w2', 1000), undefined, 'a leased job is not claimed twice');

    const done = await q.complete(queued.id, 'w1', { manifest: 'mf-1' });
    assert.equal(done?.state, 'succeeded');
    assert.equal(done.progress, 100);
    assert.equal(done.finished_at, clock.now());
    assert.deepEqual(parseJson(done.result), { manifest: 'mf-1' });
    assert.deepEqual(finished.map((j) => [j.id, j.state]), [[queued.id, 'succeeded']]);
    assert.equal(await q.complete(queued.id, 'w1', {}), undefined, 'completing twice changes nothing');
  });

  t('claim honours run_at, order and kinds', async (q, clock) => {
    const later = await q.enqueue(q.db, job({ id: 't-later', runAt: clock.now() + 5000 }));
    const export1 = await q.enqueue(q.db, job({ id: 't-export', kind: 'ExportImage' }));
    assert.equal(await q.claim('w', 1000, ['ImportImage']), undefined);
    assert.equal(await q.claim('w', 1000, []), undefined);
    assert.equal((await q.claim('w', 1000, ['ImportImage', 'ExportImage']))?.id, export1.id);
    await q.complete(export1.id, 'w');
    clock.advance(5000);
    assert.equal((await q.claim('w', 1000))?.id, later.id);
  });

  t('an expired lease is re-claimed with attempts+1 and the old owner loses every write', async (q, clock) => {
    const { id } = await q.enqueue(q.db, job());
    await q.claim('old', 1000);
    assert.equal(await q.heartbeat(id, 'old', 1000, 10), true);
    clock.advance(999);
    assert.equal(await q.claim('new', 1000), undefined, 'the renewed lease has not expired yet');
    clock.advance(1001);
    const again = await q.claim('new', 1000);
    assert.equal(again?.id, id);
    assert.equal(again.attempts, 2);
    assert.equal(again.progress, 10, 'progress survives the re-claim');

    assert.equal(await q.heartbeat(id, 'old', 1000), false);
    assert.equal(await q.renew(id, 'old', 1000), 'lost');
    assert.equal(await q.checkpoint(id, 'old', { step: 9 }), false);
    assert.equal(await q.complete(id, 'old', { from: 'old' }), undefined);
    assert.equal(await q.fail(id, 'old', 'Boom', 'old failed'), undefined);
    assert.equal(await q.markCancelled(id, 'old'), undefined);
    assert.equal(await q.release(id, 'old'), false);

    const done = await q.complete(id, 'new', { from: 'new' });
    assert.deepEqual(parseJson(done!.result), { from: 'new' });
    const row = await q.get(id);
    assert.equal(row?.state, 'succeeded');
    assert.equal(row.error_code, '');
  });

  t('checkpoints persist state that a re-claim resumes from', async (q, clock) => {
    const { id } = await q.enqueue(q.db, job());
    await q.claim('a', 1000);
    assert.equal(await q.checkpoint(id, 'a', { next: 1 }), true);
    assert.equal(await q.checkpoint(id, 'a', { next: 2, etag: 'x' }), true);
    clock.advance(2000);
    const resumed = await q.claim('b', 1000);
    assert.deepEqual(parseJson(resumed!.result), { next: 2, etag: 'x' });
    const done = await q.complete(id, 'b', { size: 5 });
    assert.deepEqual(parseJson(done!.result), { next: 2, etag: 'x', size: 5 }, 'the final result merges into the state');
  });

  t('cancelling a queued job ends it at once; a running one is flagged for its worker', async (q, _c, _s, finished) => {
    const queued = await q.enqueue(q.db, job({ id: 't-q' }));
    const cancelled = await q.requestCancel(queued.id);
    assert.equal(cancelled?.state, 'cancelled');
    assert.ok(cancelled.finished_at);
    assert.equal(await q.claim('w', 1000), undefined, 'a cancelled job is never claimed');
    assert.deepEqual(finished.map((j) => j.state), ['cancelled']);

    const running = await q.enqueue(q.db, job({ id: 't-r' }));
    await q.claim('w', 1000);
    const flagged = await q.requestCancel(running.id);
    assert.equal(flagged?.state, 'running');
    assert.equal(flagged.cancel_requested, 1);
    assert.equal(await q.renew(running.id, 'w', 1000), 'cancelled');
    assert.equal(await q.heartbeat(running.id, 'w', 1000), false);
    assert.equal((await q.markCancelled(running.id, 'w'))?.state, 'cancelled');
    assert.equal((await q.requestCancel(running.id))?.state, 'cancelled', 'a finished job stays as it is');
    assert.equal(await q.requestCancel('t-unknown'), undefined);
    assert.deepEqual(finished.map((j) => j.state), ['cancelled', 'cancelled']);
  });

  t('a cancel requested while the worker is dead ends the job as cancelled, not re-run', async (q, clock, _s, finished) => {
    const { id } = await q.enqueue(q.db, job());
    await q.claim('dead', 1000);
    await q.requestCancel(id);
    clock.advance(1001);
    assert.equal(await q.claim('w', 1000), undefined);
    assert.equal((await q.get(id))?.state, 'cancelled');
    assert.deepEqual(finished.map((j) => [j.id, j.state]), [[id, 'cancelled']]);
  });

  t('retryable failures re-queue with a delay until attempts run out', async (q, clock, _s, finished) => {
    const { id } = await q.enqueue(q.db, job({ maxAttempts: 2 }));
    await q.claim('w', 1000);
    const retried = await q.fail(id, 'w', 'OSS.Throttled', 'slow down', { retry: true, delayMs: 500 });
    assert.equal(retried?.state, 'queued');
    assert.equal(retried.error_code, 'OSS.Throttled');
    assert.equal(retried.lease_owner, null);
    assert.equal(finished.length, 0, 'a retry is not a finish');
    assert.equal(await q.claim('w', 1000), undefined, 'not before the delay');
    clock.advance(500);
    const second = await q.claim('w2', 1000);
    assert.equal(second?.attempts, 2);
    const failed = await q.fail(id, 'w2', 'OSS.Throttled', 'still slow', { retry: true, delayMs: 500 });
    assert.equal(failed?.state, 'failed', 'no attempts left');
    assert.equal(failed.error_message, 'still slow');
    assert.deepEqual(finished.map((j) => j.state), ['failed']);
  });

  t('a non-retryable failure fails at once', async (q) => {
    const { id } = await q.enqueue(q.db, job());
    await q.claim('w', 1000);
    const failed = await q.fail(id, 'w', 'InvalidImage.Truncated', 'short file');
    assert.equal(failed?.state, 'failed');
    assert.equal(failed.attempts, 1);
  });

  t('a job whose worker died on every attempt is failed as exhausted', async (q, clock, _s, finished) => {
    const { id } = await q.enqueue(q.db, job({ maxAttempts: 2 }));
    await q.claim('a', 1000);
    clock.advance(1001);
    assert.equal((await q.claim('b', 1000))?.attempts, 2);
    clock.advance(1001);
    assert.equal(await q.claim('c', 1000), undefined);
    const row = await q.get(id);
    assert.equal(row?.state, 'failed');
    assert.equal(row.error_code, ATTEMPTS_EXHAUSTED);
    assert.match(row.error_message, /interrupted 2 times/);
    assert.deepEqual(finished.map((j) => j.id), [id]);
  });

  t('a reaping hook that throws does not block claiming other jobs', async (_q, clock, store) => {
    const errors: unknown[] = [];
    const q = new JobQueue(store.db, store.dialect, clock, {
      onFinished: async (_trx, j) => { if (j.id === 't-poison') throw new Error('hook down'); },
      onError: (err) => errors.push(err),
    });
    await q.enqueue(q.db, job({ id: 't-poison', maxAttempts: 1 }));
    await q.claim('dead', 1000);
    clock.advance(1001);
    await q.enqueue(q.db, job({ id: 't-next' }));
    assert.equal((await q.claim('w', 1000))?.id, 't-next');
    assert.equal(errors.length, 1);
    const poison = await q.get('t-poison');
    assert.equal(poison?.state, 'running', 'the failed reap was rolled back and will be retried');
    assert.equal(poison.attempts, 1, 'and the job was not re-run');
  });

  t('release gives a job back without counting the attempt', async (q) => {
    const { id } = await q.enqueue(q.db, job());
    await q.claim('w', 1000);
    assert.equal(await q.release(id, 'w'), true);
    const row = await q.get(id);
    assert.equal(row?.state, 'queued');
    assert.equal(row.attempts, 0);
    assert.equal((await q.claim('w2', 1000))?.attempts, 1);
  });

  t('progress is clamped and stored by heartbeats', async (q) => {
    const { id } = await q.enqueue(q.db, job());
    await q.claim('w', 1000);
    await q.heartbeat(id, 'w', 1000, 140);
    assert.equal((await q.get(id))?.progress, 100);
    await q.heartbeat(id, 'w', 1000, 37.4);
    assert.equal((await q.get(id))?.progress, 37);
  });

  t('list filters by account, region, ids, kinds, states, resources and time, with paging', async (q, clock) => {
    for (let i = 0; i < 12; i++) {
      await q.enqueue(q.db, job({ id: `t-${String(i).padStart(2, '0')}`, kind: i % 3 === 0 ? 'ExportImage' : 'ImportImage', resourceId: `m-${i % 4}` }));
      clock.advance(60_000);
    }
    await q.enqueue(q.db, job({ id: 't-other-account', accountId: '9999999999999999' }));
    await q.enqueue(q.db, job({ id: 't-other-region', region: 'cn-beijing' }));
    await q.claim('w', 1000, ['ExportImage']);

    const base = { accountId: ACCOUNT, region: 'cn-hangzhou' };
    const all = await q.list({ ...base, limit: 100 });
    assert.equal(all.total, 12);
    assert.deepEqual(all.rows.map((r) => r.id).slice(0, 3), ['t-11', 't-10', 't-09'], 'newest first');

    const page2 = await q.list({ ...base, offset: 5, limit: 5 });
    assert.equal(page2.total, 12);
    assert.deepEqual(page2.rows.map((r) => r.id), ['t-06', 't-05', 't-04', 't-03', 't-02']);

    const ids = await q.list({ ...base, ids: ['t-01', 't-02', 't-other-account'] });
    assert.deepEqual(ids.rows.map((r) => r.id), ['t-02', 't-01']);
    assert.equal((await q.list({ ...base, kinds: ['ExportImage'] })).total, 4);
    const running = await q.list({ ...base, states: ['running'] });
    assert.deepEqual(running.rows.map((r) => r.id), ['t-00']);
    assert.equal((await q.list({ ...base, states: ['queued', 'running'] })).total, 12);
    assert.deepEqual((await q.list({ ...base, resourceIds: ['m-1'] })).rows.map((r) => r.id), ['t-09', 't-05', 't-01']);
    const t0 = all.rows[all.rows.length - 1].created_at;
    const window = await q.list({ ...base, createdFrom: t0 + 60_000, createdTo: t0 + 180_000 });
    assert.deepEqual(window.rows.map((r) => r.id), ['t-03', 't-02', 't-01']);
    assert.equal((await q.list({ ...base, ids: [] })).total, 12, 'an empty list means no filter');
  });

  t('enqueue joins the caller transaction', async (q) => {
    await assert.rejects(q.db.transaction().execute(async (trx) => {
      await q.enqueue(trx, job({ id: 't-rolled-back' }));
      throw new Error('abort');
    }));
    assert.equal(await q.get('t-rolled-back'), undefined);
    await q.db.transaction().execute(async (trx) => {
      await setEffect(trx, 'm-1', 'Creating');
      await q.enqueue(trx, job({ id: 't-kept' }));
    });
    assert.equal((await q.get('t-kept'))?.state, 'queued');
    assert.equal(await effectOf(q.db, 'm-1'), 'Creating');
  });

  t('finishing hooks run in the job transaction: a failing hook undoes the state change', async (q) => {
    await setEffect(q.db, 'm-1', 'Creating');
    const { id } = await q.enqueue(q.db, job());
    await q.claim('w', 1000);

    await assert.rejects(q.complete(id, 'w', { manifest: 'mf-1' }, async (trx) => {
      await setEffect(trx, 'm-1', 'Available');
      throw new Error('hook failed');
    }), /hook failed/);
    assert.equal((await q.get(id))?.state, 'running', 'the job is unchanged');
    assert.equal((await q.get(id))?.result, '{}');
    assert.equal(await effectOf(q.db, 'm-1'), 'Creating', 'the resource row is unchanged');

    await assert.rejects(q.checkpoint(id, 'w', { next: 3 }, async () => { throw new Error('no'); }));
    assert.equal((await q.get(id))?.result, '{}', 'a checkpoint whose rows fail is not kept');

    const done = await q.complete(id, 'w', { manifest: 'mf-1' }, async (trx, row) => {
      assert.equal(row.state, 'succeeded');
      await setEffect(trx, row.resource_id, 'Available');
    });
    assert.equal(done?.state, 'succeeded');
    assert.equal(await effectOf(q.db, 'm-1'), 'Available');

    const lost = await q.complete(id, 'w', {}, async () => { throw new Error('must not run'); });
    assert.equal(lost, undefined, 'the hook does not run when the lease is not held');
  });

  t('a failing onFinished hook rolls back a cancel', async (_q, clock, store) => {
    const q = new JobQueue(store.db, store.dialect, clock, { onFinished: async () => { throw new Error('hook down'); } });
    const { id } = await q.enqueue(q.db, job());
    await assert.rejects(q.requestCancel(id), /hook down/);
    const row = await q.get(id);
    assert.equal(row?.state, 'queued');
    assert.equal(row.cancel_requested, 0);
  });
}

/** A resource table owned by this test (so it does not depend on the images schema). */
async function setEffect(db: Kysely<Database>, id: string, status: string): Promise<void> {
  await sql`create table if not exists test_effects (id varchar(64) primary key, status varchar(32) not null)`.execute(db);
  await sql`delete from test_effects where id = ${id}`.execute(db);
  await sql`insert into test_effects (id, status) values (${id}, ${status})`.execute(db);
}

async function effectOf(db: Kysely<Database>, id: string): Promise<string | undefined> {
  const { rows } = await sql<{ status: string }>`select status from test_effects where id = ${id}`.execute(db);
  return rows[0]?.status;
}

// Issue 11, item 2: one account's backlog must not starve another's jobs.
for (const backend of storeBackends()) {
  test(`${backend.name}: claiming is fair between accounts (running limit per account, round-robin)`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    const clock = fakeClock();
    const q = new JobQueue(store.db, store.dialect, clock, { maxRunningPerAccount: 2 });
    const A = '1111111111111111';
    const B = '2222222222222222';
    const C = '3333333333333333';
    try {
      // A floods the queue first; B and C enqueue one job each later.
      const aJobs: string[] = [];
      for (let i = 0; i < 20; i++) aJobs.push((await q.enqueue(q.db, job({ accountId: A, resourceId: `a-${i}` }))).id);
      clock.advance(10);
      const b = (await q.enqueue(q.db, job({ accountId: B, resourceId: 'b' }))).id;
      const c = (await q.enqueue(q.db, job({ accountId: C, resourceId: 'c' }))).id;

      // Four workers claim: A may hold only two at once, so B and C are served before A's backlog moves.
      const claimed: JobRow[] = [];
      for (let w = 0; w < 4; w++) {
        const got = await q.claim(`w${w}`, 60_000);
        if (got) claimed.push(got);
      }
      assert.deepEqual(claimed.map((j) => j.account_id).sort(), [A, A, B, C]);
      assert.ok(claimed.some((j) => j.id === b) && claimed.some((j) => j.id === c));
      // A's third job waits while two of A's run, even with free workers.
      assert.equal(await q.claim('w4', 60_000), undefined);

      // One worker, turn by turn: after A's job finishes, B's next job goes before A's backlog.
      const a1 = claimed.find((j) => j.account_id === A)!;
      await q.complete(a1.id, a1.lease_owner!);
      const b2 = (await q.enqueue(q.db, job({ accountId: B, resourceId: 'b2' }))).id;
      await q.complete(b, claimed.find((j) => j.id === b)!.lease_owner!);
      const next = await q.claim('w5', 60_000);
      assert.equal(next?.id, b2, 'B was served less recently than A, so its job comes first');
      const after = await q.claim('w6', 60_000);
      assert.equal(after?.account_id, A);
      assert.ok(aJobs.includes(after!.id));
      const remaining = await q.db.selectFrom('jobs').select('id').where('account_id', '=', A).where('state', '=', 'queued').execute();
      assert.equal(remaining.length, 17, "B's jobs were claimed while most of A's backlog was still queued");
    } finally {
      await disposeStore(store);
    }
  });
}

// Issue 14: jobs whose input is a file on one node.
for (const backend of storeBackends()) {
  const t = (name: string, fn: Parameters<typeof withQueue>[1]) =>
    test(`${backend.name}: ${name}`, { skip: backend.skip }, () => withQueue(backend, fn));

  t('a job pinned to a node is claimed only there, and failed by the others once that node stops beating', async (q, clock, store, finished) => {
    const onNode = (node: string) => new JobQueue(store.db, store.dialect, clock, { node, onFinished: async (_trx, j) => { finished.push(j); } });
    const a = onNode('node-a');
    const b = onNode('node-b');
    await a.beatNode(1000);
    await b.beatNode(1000);
    const pinned = await b.enqueue(b.db, job({ node: 'node-a' }));
    assert.equal(await b.claim('b#1', 1000), undefined, 'another node does not claim it');
    assert.equal(await q.claim('any#1', 1000), undefined, 'nor a queue that serves no node');
    assert.equal((await a.claim('a#1', 1000))?.id, pinned.id);
    assert.ok(await a.release(pinned.id, 'a#1'));

    // node-a stops: its heartbeat runs out; node-b keeps beating.
    clock.advance(600);
    await b.beatNode(1000);
    assert.equal(await b.claim('b#2', 1000), undefined, 'still within node-a\'s heartbeat');
    assert.equal((await q.get(pinned.id))?.state, 'queued');
    clock.advance(600);
    assert.equal(await b.claim('b#3', 1000), undefined);
    const failed = await q.get(pinned.id);
    assert.equal(failed?.state, 'failed');
    assert.equal(failed.error_code, NODE_STOPPED);
    assert.match(failed.error_message, /node-a/);
    assert.deepEqual(finished.map((j) => [j.id, j.state]), [[pinned.id, 'failed']], 'the kind\'s onFinished hook ran');

    // A node that comes back beats first, and then finds its own jobs, never failing them itself.
    const mine = await a.enqueue(a.db, job({ node: 'node-a' }));
    clock.advance(5000);
    assert.equal((await a.claim('a#2', 1000))?.id, mine.id);
  });

  t('a running pinned job whose node stopped is failed once its lease ran out, not before', async (_q, clock, store) => {
    const a = new JobQueue(store.db, store.dialect, clock, { node: 'node-a' });
    const b = new JobQueue(store.db, store.dialect, clock, { node: 'node-b' });
    await a.beatNode(100);
    const pinned = await a.enqueue(a.db, job({ node: 'node-a', maxAttempts: 1 }));
    assert.equal((await a.claim('a#1', 5000))?.id, pinned.id);
    clock.advance(1000);
    assert.equal(await b.claim('b#1', 5000), undefined);
    assert.equal((await b.get(pinned.id))?.state, 'running', 'its lease still runs');
    clock.advance(5000);
    assert.equal(await b.claim('b#2', 5000), undefined, 'b never runs it');
    assert.equal((await b.get(pinned.id))?.error_code, NODE_STOPPED, 'the node stopped, rather than "out of attempts"');
  });
}
