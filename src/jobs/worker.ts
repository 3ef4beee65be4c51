/**
 * Runs jobs from a JobQueue: claims up to `concurrency` at a time, renews each lease every leaseMs/3,
 * and turns the handler's outcome into complete / fail (with retry) / markCancelled / release.
 * Handlers must be resumable: on a re-run `ctx.state` holds what they checkpointed before.
 */
import { parseJson, type JobQueue, type JobRow, type JobTrxHook } from './queue.ts';

export interface JobContext {
  /** Aborted when the lease is lost, a cancel is requested, or the worker stops. */
  signal: AbortSignal;
  payload: Record<string, unknown>;
  /** The checkpointed state (the job's `result` so far); `checkpoint` merges into it. */
  state: Record<string, unknown>;
  /** 1 on the first run, 2 on the first retry or resume, and so on. */
  attempt: number;
  /** Records progress 0-100 (written when the integer value changes). */
  progress(pct: number): Promise<void>;
  /** Persists resumable state; `atomically` commits other rows in the same transaction. Throws if the lease is lost. */
  checkpoint(patch: Record<string, unknown>, atomically?: JobTrxHook): Promise<void>;
}

/** Returns the final result to merge into the job's `result`, or nothing. */
export type JobHandler = (job: JobRow, ctx: JobContext) => Promise<Record<string, unknown> | void>;

export interface WorkerOptions {
  queue: JobQueue;
  /** Names this worker in lease_owner (a per-claim counter is appended); at most 48 characters. */
  owner: string;
  handlers: Record<string, JobHandler>;
  leaseMs: number;
  pollMs: number;
  concurrency: number;
  /** Delay before retry number `attempt` of a retryable failure (default 1 s doubling, at most 60 s). */
  retryDelayMs?: (attempt: number) => number;
  /** How long stop() waits for handlers to observe the abort (default 10 s). */
  stopTimeoutMs?: number;
  /** Errors the worker cannot attribute to a job outcome (database down, ...); default console.error. */
  onError?: (err: unknown) => void;
}

export interface Worker {
  /** Stops claiming, aborts running handlers, gives unfinished jobs back, and waits (bounded) for them. */
  stop(): Promise<void>;
  /** Claims now instead of at the next poll (e.g. right after an enqueue). */
  wake(): void;
  /** For health checks: when the loop last made progress (a claim answered, or every slot busy), whether the last claim failed, and how many jobs run. */
  health(): WorkerHealth;
}

export interface WorkerHealth {
  aliveAt: number;
  claimFailing: boolean;
  running: number;
  pollMs: number;
}

type AbortReason = 'cancel' | 'lost' | 'stop';

/** The reason a JobContext's signal carries; handlers may rethrow it. */
export class JobAbortedError extends Error {
  constructor(readonly reason: AbortReason) {
    super(`job aborted: ${reason}`);
    this.name = 'AbortError';
  }
}

const MAX_OWNER = 48;

export function defaultRetryDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempt - 1), 60_000);
}

export function startWorker(opts: WorkerOptions): Worker {
  if (opts.owner.length > MAX_OWNER) throw new Error(`worker owner is longer than ${MAX_OWNER} characters`);
  const { queue, leaseMs } = opts;
  const kinds = Object.keys(opts.handlers);
  const onError = opts.onError ?? ((err: unknown) => console.error('[jobs]', err));
  const retryDelayMs = opts.retryDelayMs ?? defaultRetryDelayMs;
  /** Keyed by the per-claim lease owner: a job re-claimed by this worker is a separate run. */
  const running = new Map<string, { abort(r: AbortReason): void; stopBeating(): void; done: Promise<void> }>();
  let stopped = false;
  let claims = 0;
  let wakeNap: (() => void) | undefined;
  let aliveAt = Date.now();
  let claimFailing = false;

  /** A wake that came while the loop was claiming (its claim may have missed the new job): the next nap is skipped. */
  let wokenWhileBusy = false;
  const nap = (ms: number) => new Promise<void>((resolve) => {
    if (wokenWhileBusy) { wokenWhileBusy = false; resolve(); return; }
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); wakeNap = undefined; resolve(); }
    wakeNap = done;
  });

  // The node's heartbeat, before any claim: a node back from a stop renews it before the others give up its jobs.
  // Its lease covers several polls, since the loop beats only between them.
  const nodeLeaseMs = Math.max(leaseMs, 4 * opts.pollMs);
  let beatDue = 0;
  async function beatNode(): Promise<void> {
    if (Date.now() < beatDue) return;
    try {
      await queue.beatNode(nodeLeaseMs);
      beatDue = Date.now() + Math.floor(nodeLeaseMs / 3);
    } catch (err) {
      onError(err);
    }
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      await beatNode();
      if (running.size >= opts.concurrency) { aliveAt = Date.now(); await nap(opts.pollMs); continue; }
      const leaseOwner = `${opts.owner}#${++claims}`;
      let job: JobRow | undefined;
      try {
        job = await queue.claim(leaseOwner, leaseMs, kinds);
        aliveAt = Date.now();
        claimFailing = false;
      } catch (err) {
        claimFailing = true;
        onError(err);
      }
      if (!job) { if (!stopped) await nap(opts.pollMs); continue; }
      if (stopped) { await queue.release(job.id, leaseOwner).catch(onError); break; }
      track(job, leaseOwner);
    }
  }

  function track(job: JobRow, leaseOwner: string): void {
    const ac = new AbortController();
    let reason: AbortReason | undefined;
    const abort = (r: AbortReason) => {
      if (reason) return;
      reason = r;
      ac.abort(new JobAbortedError(r));
    };
    const beats = { stopped: false };
    const done = runJob(job, leaseOwner, ac.signal, abort, () => reason, beats)
      .catch(onError)
      .finally(() => { running.delete(leaseOwner); wakeNap?.(); });
    running.set(leaseOwner, { abort, stopBeating: () => { beats.stopped = true; }, done });
  }

  async function runJob(
    job: JobRow, leaseOwner: string, signal: AbortSignal,
    abort: (r: AbortReason) => void, reasonNow: () => AbortReason | undefined, beats: { stopped: boolean },
  ): Promise<void> {
    const handler = opts.handlers[job.kind];
    let lastProgress = job.progress;
    let lost = false;
    const loseLease = () => { lost = true; abort('lost'); };
    const beat = async (progress?: number) => {
      const outcome = await queue.renew(job.id, leaseOwner, leaseMs, progress);
      if (outcome === 'lost') loseLease();
      else if (outcome === 'cancelled') abort('cancel');
    };
    // A chain of timeouts, not setInterval, so a slow database never stacks up renewals.
    let timer: NodeJS.Timeout | undefined;
    let beating: Promise<void> = Promise.resolve();
    const schedule = () => {
      timer = setTimeout(() => {
        if (beats.stopped) return;
        beating = beat().catch(onError).finally(() => { if (!lost && timer) schedule(); });
      }, Math.max(5, Math.floor(leaseMs / 3)));
    };
    schedule();

    const state = parseJson(job.result);
    const ctx: JobContext = {
      signal,
      payload: parseJson(job.payload),
      state,
      attempt: job.attempts,
      async progress(pct) {
        const p = Math.max(0, Math.min(100, Math.round(pct)));
        if (p === lastProgress) return;
        lastProgress = p;
        await beat(p);
      },
      async checkpoint(patch, atomically) {
        signal.throwIfAborted();
        if (!(await queue.checkpoint(job.id, leaseOwner, patch, atomically))) loseLease();
        signal.throwIfAborted();
        Object.assign(state, patch);
      },
    };

    let result: Record<string, unknown> | void = undefined;
    let error: unknown;
    let ok = false;
    try {
      result = await handler(job, ctx);
      ok = true;
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(timer);
      timer = undefined;
      await beating;
    }

    const reason = reasonNow();
    if (lost) return;
    if (reason === 'cancel') await queue.markCancelled(job.id, leaseOwner);
    else if (ok) await queue.complete(job.id, leaseOwner, result ?? {});
    else if (reason === 'stop') await queue.release(job.id, leaseOwner);
    else {
      const { code, message, retryable } = describeError(error);
      await queue.fail(job.id, leaseOwner, code, message, { retry: retryable, delayMs: retryDelayMs(job.attempts) });
    }
  }

  const looping = loop();

  return {
    wake() { if (wakeNap) wakeNap(); else wokenWhileBusy = true; },
    health: () => ({ aliveAt, claimFailing, running: running.size, pollMs: opts.pollMs }),
    async stop() {
      stopped = true;
      wakeNap?.();
      for (const r of running.values()) r.abort('stop');
      const all = Promise.allSettled([looping, ...[...running.values()].map((r) => r.done)]);
      let t: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => { t = setTimeout(resolve, opts.stopTimeoutMs ?? 10_000); });
      await Promise.race([all, bound]);
      clearTimeout(t);
      // Handlers that ignored the abort keep running, but stop renewing: their lease expires and the job
      // is re-run elsewhere (or completed by them first, if they finish before that).
      for (const r of running.values()) r.stopBeating();
    },
  };
}

/** ApiErrors and errors with a string `code` keep their code; anything else is an InternalError. */
function describeError(err: unknown): { code: string; message: string; retryable: boolean } {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; retryable?: unknown };
  return {
    code: typeof e.code === 'string' && e.code ? e.code : 'InternalError',
    message: typeof e.message === 'string' ? e.message : String(err),
    retryable: e.retryable === true,
  };
}
