import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeBackends } from '../support/stores.ts';
import { apiError } from '../../src/domain/errors.ts';
import { JobQueue, JobAbortedError, startWorker, parseJson, type JobHandler, type JobRow, type Worker } from '../../src/jobs/index.ts';
import { untilAborted, disposeStore } from './helpers.ts';
import { waitFor } from '../support/wait.ts';

const job = (extra: Record<string, unknown> = {}) => ({ kind: 'work', region: 'cn-hangzhou', accountId: '1234567890123456', ...extra });

for (const backend of storeBackends()) {
  /** Runs `fn` with a queue and a worker over `handlers`; the worker is stopped and the store closed afterwards. */
  const t = (name: string, fn: (q: JobQueue, start: (handlers: Record<string, JobHandler>, extra?: object) => Worker, finished: JobRow[]) => Promise<void>) =>
    test(`${backend.name}: ${name}`, { skip: backend.skip }, async () => {
      const store = await backend.open();
      const finished: JobRow[] = [];
      const q = new JobQueue(store.db, store.dialect, undefined, { onFinished: async (_trx, j) => { finished.push(j); } });
      const workers: Worker[] = [];
      const start = (handlers: Record<string, JobHandler>, extra = {}) => {
        const w = startWorker({ queue: q, owner: 'test-worker', handlers, leaseMs: 300, pollMs: 10, concurrency: 2, retryDelayMs: () => 0, ...extra });
        workers.push(w);
        return w;
      };
      try {
        await fn(q, start, finished);
      } finally {
        for (const w of workers) await w.stop();
        await disposeStore(store);
      }
    });

  const finishedJob = async (q: JobQueue, id: string) =>
    waitFor(async () => { const j = await q.get(id); return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined; });

  t('runs a handler with payload, progress and checkpoints, and completes the job', async (q, start, finished) => {
    const { id } = await q.enqueue(q.db, job({ payload: { steps: 3 } }));
    const seen: number[] = [];
    start({
      work: async (j, ctx) => {
        assert.equal(j.id, id);
        assert.equal(ctx.attempt, 1);
        for (let i = 0; i < (ctx.payload.steps as number); i++) {
          await ctx.checkpoint({ next: i + 1 });
          await ctx.progress(((i + 1) / 3) * 100 - 1);
          seen.push((await q.get(id))!.progress);
        }
        assert.deepEqual(ctx.state, { next: 3 });
        return { manifest: 'mf-9' };
      },
    });
    const done = await finishedJob(q, id);
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(seen, [32, 66, 99]);
    assert.equal(done.progress, 100);
    assert.deepEqual(parseJson(done.result), { next: 3, manifest: 'mf-9' });
    assert.match(done.lease_owner ?? '', /^test-worker#\d+$/);
    assert.deepEqual(finished.map((j) => j.id), [id]);
  });

  t('ApiErrors and coded errors become the job error; others are InternalError', async (q, start, finished) => {
    const a = await q.enqueue(q.db, job({ payload: { throw: 'api' } }));
    const b = await q.enqueue(q.db, job({ payload: { throw: 'coded' } }));
    const c = await q.enqueue(q.db, job({ payload: { throw: 'plain' } }));
    start({
      work: async (_j, ctx) => {
        if (ctx.payload.throw === 'api') throw apiError('InvalidImage.Truncated', 'ends at 512');
        if (ctx.payload.throw === 'coded') throw Object.assign(new Error('bucket gone'), { code: 'InvalidOSSObject.NotFound' });
        throw new Error('bad luck');
      },
    });
    const [fa, fb, fc] = await Promise.all([finishedJob(q, a.id), finishedJob(q, b.id), finishedJob(q, c.id)]);
    assert.deepEqual([fa.state, fa.error_code, fa.error_message], ['failed', 'InvalidImage.Truncated', 'The image file is truncated: ends at 512']);
    assert.deepEqual([fb.state, fb.error_code, fb.error_message], ['failed', 'InvalidOSSObject.NotFound', 'bucket gone']);
    assert.deepEqual([fc.state, fc.error_code, fc.error_message], ['failed', 'InternalError', 'bad luck']);
    assert.equal(fa.attempts, 1, 'non-retryable errors are not retried');
    assert.equal(finished.length, 3, 'onFinished saw every failure');
  });

  t('retryable errors are retried until success or max_attempts', async (q, start) => {
    const flaky = await q.enqueue(q.db, job({ id: 't-flaky', maxAttempts: 3 }));
    const hopeless = await q.enqueue(q.db, job({ id: 't-hopeless', maxAttempts: 2 }));
    const delays: number[] = [];
    start({
      work: async (j, ctx) => {
        if (j.id === flaky.id && ctx.attempt < 3) throw Object.assign(new Error('try again'), { code: 'ServiceUnavailable', retryable: true });
        if (j.id === hopeless.id) throw Object.assign(new Error('always down'), { code: 'ServiceUnavailable', retryable: true });
        return { ok: true };
      },
    }, { retryDelayMs: (attempt: number) => { delays.push(attempt); return 0; } });
    const [f, h] = await Promise.all([finishedJob(q, flaky.id), finishedJob(q, hopeless.id)]);
    assert.deepEqual([f.state, f.attempts], ['succeeded', 3]);
    assert.equal(f.error_code, 'ServiceUnavailable', 'the last error is kept for inspection');
    assert.deepEqual([h.state, h.attempts, h.error_message], ['failed', 2, 'always down']);
    assert.ok(delays.includes(1) && delays.includes(2), 'backoff is asked per attempt');
  });

  t('cancelling a running job aborts its handler and ends it cancelled', async (q, start, finished) => {
    const { id } = await q.enqueue(q.db, job());
    let started = false;
    let reason: unknown;
    start({
      work: async (_j, ctx) => {
        started = true;
        reason = await untilAborted(ctx.signal);
        throw reason;
      },
    });
    await waitFor(async () => started);
    assert.equal((await q.requestCancel(id))?.state, 'running');
    const done = await finishedJob(q, id);
    assert.equal(done.state, 'cancelled');
    assert.ok(reason instanceof JobAbortedError && reason.reason === 'cancel');
    assert.deepEqual(finished.map((j) => j.state), ['cancelled']);
  });

  t('a handler that lost its lease is aborted and cannot finish the job', async (q, start) => {
    const { id } = await q.enqueue(q.db, job());
    let started = false;
    let reason: unknown;
    start({
      work: async (_j, ctx) => {
        started = true;
        reason = await untilAborted(ctx.signal);
        return { from: 'first worker' };
      },
    });
    await waitFor(async () => started);
    // Another worker takes the job over (as it would after the lease expired).
    await q.db.updateTable('jobs').set({ lease_owner: 'thief', lease_until: Date.now() + 60_000 }).where('id', '=', id).execute();
    await waitFor(async () => reason);
    assert.ok(reason instanceof JobAbortedError && reason.reason === 'lost');
    await new Promise((r) => setTimeout(r, 50));
    const row = await q.get(id);
    assert.equal(row?.state, 'running', 'the first worker did not finish the job');
    assert.equal(row.lease_owner, 'thief');
    assert.equal((await q.complete(id, 'thief', { from: 'thief' }))?.state, 'succeeded');
    assert.deepEqual(parseJson((await q.get(id))!.result), { from: 'thief' });
  });

  t('concurrency bounds the handlers in flight', async (q, start) => {
    for (let i = 0; i < 5; i++) await q.enqueue(q.db, job({ id: `t-${i}` }));
    let inFlight = 0;
    let peak = 0;
    let release = false;
    start({
      work: async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await waitFor(async () => release);
        inFlight--;
      },
    });
    await waitFor(async () => inFlight === 2);
    release = true;
    for (let i = 0; i < 5; i++) assert.equal((await finishedJob(q, `t-${i}`)).state, 'succeeded');
    assert.equal(peak, 2);
  });

  t('wake() claims at once instead of waiting for the next poll', async (q, start) => {
    const w = start({ work: async () => ({}) }, { pollMs: 3_600_000 });
    await new Promise((r) => setTimeout(r, 50)); // let the first (empty) poll happen
    const { id } = await q.enqueue(q.db, job());
    w.wake();
    assert.equal((await finishedJob(q, id)).state, 'succeeded');
  });

  t('a wake() that comes while a claim is under way (which cannot see the new job) claims again at once', async (q, start) => {
    const claim = q.claim.bind(q);
    let enqueued: string | undefined;
    q.claim = async (...args) => {
      const found = await claim(...args);
      if (enqueued === undefined) {
        // The job is committed, and the worker woken, after this claim looked.
        enqueued = (await q.enqueue(q.db, job())).id;
        w.wake();
      }
      return found;
    };
    const w = start({ work: async () => ({}) }, { pollMs: 3_600_000 });
    await waitFor(() => enqueued);
    assert.equal((await finishedJob(q, enqueued!)).state, 'succeeded');
  });

  t('stop() aborts handlers and gives their jobs back without counting the attempt', async (q, start) => {
    const { id } = await q.enqueue(q.db, job());
    let started = false;
    const w = start({ work: async (_j, ctx) => { started = true; throw await untilAborted(ctx.signal); } });
    await waitFor(async () => started);
    await w.stop();
    const row = await q.get(id);
    assert.equal(row?.state, 'queued');
    assert.equal(row.attempts, 0);
    assert.equal(row.lease_owner, null);
  });

  t('stop() is bounded when a handler ignores the abort', async (q, start) => {
    const { id } = await q.enqueue(q.db, job());
    let started = false;
    let gate = false;
    let returned = false;
    const w = start({ work: async () => { started = true; await waitFor(async () => gate); returned = true; } }, { stopTimeoutMs: 50 });
    await waitFor(async () => started);
    await w.stop();
    assert.equal(returned, false, 'stop() returned while the handler was still running');
    gate = true;
    const done = await finishedJob(q, id);
    assert.equal(done.state, 'succeeded', 'a late handler still finishes the job it holds');
  });
}
