/**
 * Durable job queue on the `jobs` table. Jobs are also the API's tasks.
 *
 * A worker claims a job with a lease (lease_owner + lease_until), renews it while it works, and
 * finishes it. Every change a worker makes is conditional on still holding the lease, so a worker
 * that lost its lease (crash, pause, network) can never overwrite the result of the one that took over.
 * Times come from the injected clock (epoch ms), never from the database, so tests can move time.
 *
 * A job whose input is a file on one node (a spooled upload) is pinned to that node (`jobs.node`): only a queue of
 * that node claims it. Each node's worker renews a heartbeat row (`job_nodes`) like a lease; once a node's has run
 * out, the other nodes fail the jobs pinned to it (JobNodeStopped) rather than leave them queued forever.
 */
import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import type { Dialect } from '../store/dialect.ts';
import type { Database, JobRow } from '../store/schema.ts';
import { randomBase36 } from '../domain/ids.ts';
import { systemClock, type Clock } from '../domain/clock.ts';
import { jobFilter, type JobListFilter } from './list-filter.ts';

export type { JobRow };
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Runs inside the transaction that changes the job, so resource rows and the job row change together. */
export type JobTrxHook = (trx: Transaction<Database>, job: JobRow) => Promise<void>;

export interface QueueOptions {
  /**
   * Called in the same transaction whenever a job reaches a terminal state (succeeded, failed,
   * cancelled), whoever caused it: a worker, CancelTask, or the reaper failing an exhausted job.
   */
  onFinished?: JobTrxHook;
  /** Reports a job the reaper could not finish (its hook threw); claiming goes on. Default console.error. */
  onError?: (err: unknown) => void;
  /**
   * Jobs of one account running at once (live leases); its other jobs wait while others' are claimed.
   * Default 2. Soft on PostgreSQL: two workers claiming at the same instant may each see room.
   */
  maxRunningPerAccount?: number;
  /** This node's identity (jobs/node-id.ts): it claims the jobs pinned to it as well as unpinned ones. */
  node?: string;
}

export interface NewJob {
  /** Defaults to `t-` + 20 base36 characters; services pass a region-specific task id. */
  id?: string;
  kind: string;
  region: string;
  accountId: string;
  resourceId?: string;
  payload?: unknown;
  maxAttempts?: number;
  /** Epoch ms before which the job is not claimed; defaults to now. */
  runAt?: number;
  /** Only this node may claim it (its input is a file there); default any node. */
  node?: string;
}

export interface FailOptions {
  /** Re-queue the job when attempts remain (and no cancel was requested). */
  retry?: boolean;
  /** Delay before a retried job may be claimed again. */
  delayMs?: number;
}

/** Lease renewal outcome: `cancelled` means the lease is held but a cancel was requested. */
export type RenewOutcome = 'ok' | 'cancelled' | 'lost';

export const ATTEMPTS_EXHAUSTED = 'JobAttemptsExhausted';
/** The error of a job pinned to a node that stopped before running it. */
export const NODE_STOPPED = 'JobNodeStopped';

export function newTaskId(): string {
  return 't-' + randomBase36(20);
}

export function parseJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

const REAP_BATCH = 20;

export class JobQueue {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    readonly clock: Clock = systemClock,
    private readonly options: QueueOptions = {},
  ) {}

  /** This node's identity; '' when the queue serves no particular node (it then claims only unpinned jobs). */
  get node(): string {
    return this.options.node ?? '';
  }

  /** Renews this node's heartbeat until now + leaseMs; the worker calls it more often than that. */
  async beatNode(leaseMs: number): Promise<void> {
    if (!this.node) return;
    const aliveUntil = this.clock.now() + leaseMs;
    await this.db.insertInto('job_nodes').values({ id: this.node, alive_until: aliveUntil })
      .onConflict((oc) => oc.column('id').doUpdateSet({ alive_until: aliveUntil })).execute();
  }

  /** Inserts a queued job. Pass the caller's transaction to create it atomically with its resource rows. */
  async enqueue(exec: Kysely<Database>, job: NewJob): Promise<JobRow> {
    const now = this.clock.now();
    return exec.insertInto('jobs').values({
      id: job.id ?? newTaskId(),
      kind: job.kind,
      region: job.region,
      account_id: job.accountId,
      resource_id: job.resourceId ?? '',
      state: 'queued',
      payload: JSON.stringify(job.payload ?? {}),
      progress: 0,
      attempts: 0,
      max_attempts: job.maxAttempts ?? 3,
      run_at: job.runAt ?? now,
      lease_owner: null,
      lease_until: null,
      error_code: '',
      error_message: '',
      result: '{}',
      cancel_requested: 0,
      created_at: now,
      updated_at: now,
      finished_at: null,
      node: job.node ?? '',
    }).returningAll().executeTakeFirstOrThrow();
  }

  /**
   * Claims the next due job: queued with run_at <= now, or running with an expired lease (its worker
   * died). Increments attempts. `owner` must identify this one holder (the worker adds a claim counter).
   * Expired jobs that are out of attempts, or whose cancel was requested, are finished instead of re-run.
   */
  async claim(owner: string, leaseMs: number, kinds?: readonly string[]): Promise<JobRow | undefined> {
    if (kinds && kinds.length === 0) return undefined;
    // Orphans first: a pinned job whose node stopped gets the error that says so, not "out of attempts".
    await this.reapOrphaned(kinds);
    await this.reapExpired(kinds);
    const now = this.clock.now();
    const claimable = (eb: ExpressionBuilder<Database, 'jobs'>) => eb.and([
      eb.or([
        eb.and([eb('state', '=', 'queued'), eb('run_at', '<=', now)]),
        eb.and([eb('state', '=', 'running'), eb('lease_until', '<', now),
          eb('attempts', '<', eb.ref('max_attempts')), eb('cancel_requested', '=', 0)]),
      ]),
      eb('node', 'in', this.node ? ['', this.node] : ['']),
    ]);
    const limit = this.options.maxRunningPerAccount ?? 2;
    // Fair between accounts: only accounts under their running limit, the one served longest ago first
    // (round-robin through job_turns), then the oldest due job of that account.
    const pick = this.db.selectFrom('jobs').leftJoin('job_turns as t', 't.account_id', 'jobs.account_id').select('jobs.id')
      .where(claimable)
      .$if(kinds !== undefined, (q) => q.where('jobs.kind', 'in', kinds!))
      .where((eb) => eb(
        eb.selectFrom('jobs as r').select((e) => e.fn.countAll().as('n'))
          .whereRef('r.account_id', '=', 'jobs.account_id').where('r.state', '=', 'running').where('r.lease_until', '>=', now),
        '<', limit))
      .orderBy(sql`coalesce(t.last_claim, 0)`).orderBy('jobs.run_at').orderBy('jobs.id').limit(1);
    const locked = this.dialect === 'postgres' ? pick.forUpdate(['jobs']).skipLocked() : pick;
    return this.db.transaction().execute(async (trx) => {
      const claimed = await trx.updateTable('jobs')
        .set((eb) => ({
          state: 'running',
          lease_owner: owner,
          lease_until: now + leaseMs,
          attempts: eb('attempts', '+', 1),
          updated_at: now,
        }))
        .where('id', '=', locked)
        .where(claimable) // re-checked on the row itself, so a stale pick can never claim twice
        .returningAll()
        .executeTakeFirst();
      if (claimed) {
        // A turn number, not a time: claims within one clock tick still take turns.
        const turn = sql<number>`(select coalesce(max(last_claim), 0) + 1 from job_turns)`;
        await trx.insertInto('job_turns').values({ account_id: claimed.account_id, last_claim: turn })
          .onConflict((oc) => oc.column('account_id').doUpdateSet({ last_claim: turn })).execute();
      }
      return claimed;
    });
  }

  /** Extends the lease and optionally records progress (0-100). */
  async renew(id: string, owner: string, leaseMs: number, progress?: number): Promise<RenewOutcome> {
    const now = this.clock.now();
    const row = await this.db.updateTable('jobs')
      .set({
        lease_until: now + leaseMs,
        updated_at: now,
        ...(progress === undefined ? {} : { progress: clampProgress(progress) }),
      })
      .where('id', '=', id).where('lease_owner', '=', owner).where('state', '=', 'running')
      .returning('cancel_requested')
      .executeTakeFirst();
    if (!row) return 'lost';
    return row.cancel_requested ? 'cancelled' : 'ok';
  }

  /** Like `renew`, but false whenever the worker must stop (lease lost or cancel requested). */
  async heartbeat(id: string, owner: string, leaseMs: number, progress?: number): Promise<boolean> {
    return (await this.renew(id, owner, leaseMs, progress)) === 'ok';
  }

  /**
   * Merges `patch` into the job's `result` JSON (its resumable state). `atomically` runs in the same
   * transaction, e.g. to commit the rows a step produced together with the step's checkpoint.
   * False when the lease was lost (nothing is written).
   */
  async checkpoint(id: string, owner: string, patch: Record<string, unknown>, atomically?: JobTrxHook): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await this.touchHeld(trx, id, owner);
      if (!row) return false;
      const updated = await this.mergeResult(trx, row, patch);
      if (atomically) await atomically(trx, updated);
      return true;
    });
  }

  /** Marks the job succeeded (progress 100) with `result` merged into its state. Undefined if the lease was lost. */
  async complete(id: string, owner: string, result: Record<string, unknown> = {}, atomically?: JobTrxHook): Promise<JobRow | undefined> {
    return this.finishHeld(atomically, async (trx, now) => {
      const row = await trx.updateTable('jobs')
        .set({ state: 'succeeded', progress: 100, lease_until: null, updated_at: now, finished_at: now })
        .where('id', '=', id).where('lease_owner', '=', owner).where('state', '=', 'running')
        .returningAll().executeTakeFirst();
      return row && this.mergeResult(trx, row, result);
    });
  }

  /**
   * Records a failure. With `retry` and attempts left (and no cancel requested) the job goes back to
   * `queued` after `delayMs`; otherwise it is `failed`. Undefined if the lease was lost.
   * `atomically` sees the resulting row (`queued` means it will run again); onFinished only a final failure.
   */
  async fail(id: string, owner: string, code: string, message: string, opts: FailOptions = {}, atomically?: JobTrxHook): Promise<JobRow | undefined> {
    return this.finishHeld(atomically, async (trx, now) => {
      const held = await this.touchHeld(trx, id, owner);
      if (!held) return undefined;
      const again = opts.retry === true && held.attempts < held.max_attempts && !held.cancel_requested;
      return trx.updateTable('jobs')
        .set(again
          ? { state: 'queued', run_at: now + (opts.delayMs ?? 0), lease_owner: null, lease_until: null }
          : { state: 'failed', lease_until: null, finished_at: now })
        .set({ error_code: code, error_message: message, updated_at: now })
        .where('id', '=', id)
        .returningAll().executeTakeFirstOrThrow();
    });
  }

  /** Ends a running job as cancelled, after its worker observed the cancel request. */
  async markCancelled(id: string, owner: string, atomically?: JobTrxHook): Promise<JobRow | undefined> {
    return this.finishHeld(atomically, (trx, now) => trx.updateTable('jobs')
      .set({ state: 'cancelled', lease_until: null, updated_at: now, finished_at: now })
      .where('id', '=', id).where('lease_owner', '=', owner).where('state', '=', 'running')
      .returningAll().executeTakeFirst());
  }

  /**
   * Asks for a job to stop. A queued job is cancelled at once; a running one gets cancel_requested
   * and its worker ends it at its next heartbeat. Finished jobs are left alone. Returns the job as it
   * now is (undefined if unknown). `atomically` runs in the same transaction when something changed.
   */
  async requestCancel(id: string, atomically?: JobTrxHook): Promise<JobRow | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const now = this.clock.now();
      const cancelled = await trx.updateTable('jobs')
        .set({ state: 'cancelled', cancel_requested: 1, updated_at: now, finished_at: now })
        .where('id', '=', id).where('state', '=', 'queued')
        .returningAll().executeTakeFirst();
      if (cancelled) {
        await this.options.onFinished?.(trx, cancelled);
        if (atomically) await atomically(trx, cancelled);
        return cancelled;
      }
      const flagged = await trx.updateTable('jobs')
        .set({ cancel_requested: 1, updated_at: now })
        .where('id', '=', id).where('state', '=', 'running').where('cancel_requested', '=', 0)
        .returningAll().executeTakeFirst();
      if (flagged && atomically) await atomically(trx, flagged);
      return flagged ?? trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    });
  }

  /** Gives a claimed job back without counting the attempt (graceful shutdown). */
  async release(id: string, owner: string): Promise<boolean> {
    const now = this.clock.now();
    const row = await this.db.updateTable('jobs')
      .set((eb) => ({ state: 'queued', attempts: eb('attempts', '-', 1), run_at: now, lease_owner: null, lease_until: null, updated_at: now }))
      .where('id', '=', id).where('lease_owner', '=', owner).where('state', '=', 'running')
      .returning('id').executeTakeFirst();
    return row !== undefined;
  }

  async get(id: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** A page of an account's jobs in a region, newest first, plus the total matching count. */
  async list(filter: JobListFilter): Promise<{ rows: JobRow[]; total: number }> {
    const where = jobFilter(filter);
    const rows = await this.db.selectFrom('jobs').selectAll().where(where)
      .orderBy('created_at', 'desc').orderBy('id', 'desc')
      .offset(filter.offset ?? 0).limit(filter.limit ?? 10)
      .execute();
    const { total } = await this.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number | string>().as('total'))
      .where(where).executeTakeFirstOrThrow();
    return { rows, total: Number(total) };
  }

  /**
   * Finishes running jobs whose lease expired and that must not run again: out of attempts
   * (failed, JobAttemptsExhausted) or with a cancel request (cancelled).
   */
  private async reapExpired(kinds?: readonly string[]): Promise<void> {
    const now = this.clock.now();
    const dead = await this.db.selectFrom('jobs').select(['id', 'lease_owner'])
      .where('state', '=', 'running').where('lease_until', '<', now)
      .where((eb) => eb.or([eb('attempts', '>=', eb.ref('max_attempts')), eb('cancel_requested', '=', 1)]))
      .$if(kinds !== undefined, (q) => q.where('kind', 'in', kinds!))
      .limit(REAP_BATCH).execute();
    for (const { id, lease_owner } of dead) {
      // One job's failing hook must not stop the queue: it is retried on the next claim.
      await this.db.transaction().execute(async (trx) => {
        const held = await trx.selectFrom('jobs').selectAll()
          .where('id', '=', id).where('state', '=', 'running').where('lease_until', '<', now)
          .where('lease_owner', '=', lease_owner ?? '')
          .$if(this.dialect === 'postgres', (q) => q.forUpdate().skipLocked())
          .executeTakeFirst();
        if (!held) return;
        const patch = held.cancel_requested
          ? { state: 'cancelled' }
          : { state: 'failed', error_code: ATTEMPTS_EXHAUSTED,
            error_message: `The job was interrupted ${held.attempts} times (its worker stopped renewing the lease) and will not be retried.` };
        const row = await trx.updateTable('jobs')
          .set({ ...patch, lease_until: null, updated_at: now, finished_at: now })
          .where('id', '=', id).returningAll().executeTakeFirstOrThrow();
        await this.options.onFinished?.(trx, row);
      }).catch(this.options.onError ?? ((err) => console.error('[jobs] reaping', id, err)));
    }
  }

  /**
   * Finishes jobs pinned to another node whose heartbeat ran out, queued or with an expired lease: their input
   * is on that node, so no other can run them. A cancel requested is honoured; otherwise they fail (NODE_STOPPED).
   * If that node comes back it finds them finished.
   */
  private async reapOrphaned(kinds?: readonly string[]): Promise<void> {
    const now = this.clock.now();
    const orphaned = (eb: ExpressionBuilder<Database, 'jobs'>) => eb.and([
      eb('state', 'in', ['queued', 'running']), // the claim index; finished jobs are most rows
      eb('node', '!=', ''), eb('node', '!=', this.node),
      eb.or([eb('state', '=', 'queued'), eb('lease_until', '<', now)]),
      eb.not(eb.exists(eb.selectFrom('job_nodes as n').select('n.id').whereRef('n.id', '=', 'jobs.node').where('n.alive_until', '>=', now))),
    ]);
    const dead = await this.db.selectFrom('jobs').select('id').where(orphaned)
      .$if(kinds !== undefined, (q) => q.where('kind', 'in', kinds!))
      .limit(REAP_BATCH).execute();
    for (const { id } of dead) {
      await this.db.transaction().execute(async (trx) => {
        // Re-checked on the row (locked on PostgreSQL): the node may have come back, or another node reaped it.
        const held = await trx.selectFrom('jobs').selectAll().where('id', '=', id).where(orphaned)
          .$if(this.dialect === 'postgres', (q) => q.forUpdate().skipLocked())
          .executeTakeFirst();
        if (!held) return;
        const patch = held.cancel_requested
          ? { state: 'cancelled' }
          : { state: 'failed', error_code: NODE_STOPPED,
            error_message: `The data this job reads is on node ${held.node}, which stopped before running it; upload or stage the data again.` };
        const row = await trx.updateTable('jobs')
          .set({ ...patch, lease_owner: null, lease_until: null, updated_at: now, finished_at: now })
          .where('id', '=', id).returningAll().executeTakeFirstOrThrow();
        await this.options.onFinished?.(trx, row);
      }).catch(this.options.onError ?? ((err) => console.error('[jobs] reaping', id, err)));
    }
  }

  /** Runs `change` (which must be conditional on the lease) and, if it finished the job, the hooks. */
  private async finishHeld(
    atomically: JobTrxHook | undefined,
    change: (trx: Transaction<Database>, now: number) => Promise<JobRow | undefined>,
  ): Promise<JobRow | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await change(trx, this.clock.now());
      if (!row) return undefined;
      if (row.state !== 'queued') await this.options.onFinished?.(trx, row);
      if (atomically) await atomically(trx, row);
      return row;
    });
  }

  /** Bumps updated_at on a job this owner holds (locking it on PostgreSQL) and returns it. */
  private async touchHeld(trx: Transaction<Database>, id: string, owner: string): Promise<JobRow | undefined> {
    return trx.updateTable('jobs').set({ updated_at: this.clock.now() })
      .where('id', '=', id).where('lease_owner', '=', owner).where('state', '=', 'running')
      .returningAll().executeTakeFirst();
  }

  private async mergeResult(trx: Transaction<Database>, row: JobRow, patch: Record<string, unknown>): Promise<JobRow> {
    if (Object.keys(patch).length === 0) return row;
    const result = JSON.stringify({ ...parseJson(row.result), ...patch });
    return trx.updateTable('jobs').set({ result }).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
  }
}

function clampProgress(p: number): number {
  return Math.max(0, Math.min(100, Math.round(p)));
}
