/**
 * ChunkIndex on the `chunks` table (SQLite or PostgreSQL). Row states:
 *   `p:<token>`  pending: an import inserted the row and is uploading the bytes
 *   `live`       the bytes are durable; manifests may reference the chunk
 *   `deleting`   a collector claimed it (touched_at = claim time, valid for `leaseMs`)
 * The protocol and the reasoning behind it are in README.md next to this file.
 */
import crypto from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { ChunkIndex, ChunkRef, GarbageClaim, UploadTickets } from './types.ts';
import { ChunkNotLiveError } from './errors.ts';

export interface ChunkIndexOptions {
  now?: () => number;
  /** Validity of a GC claim (default 10 min). Keep it far above one blob delete and any clock skew. */
  leaseMs?: number;
  /** First wait when touch finds a chunk being deleted; doubles up to `maxPollMs`. */
  pollMs?: number;
  maxPollMs?: number;
}

type Db = Kysely<Database>;

/** Rows or refs per statement: keeps bound parameters far below SQLite's and PostgreSQL's limits. */
const BATCH = 500;

export class KyselyChunkIndex implements ChunkIndex {
  readonly leaseMs: number;
  private readonly now: () => number;
  private readonly pollMs: number;
  private readonly maxPollMs: number;

  /** The SQL here is portable: the same statements run on SQLite and PostgreSQL. */
  constructor(private readonly db: Db, opts: ChunkIndexOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.leaseMs = opts.leaseMs ?? 10 * 60_000;
    this.pollMs = opts.pollMs ?? 20;
    this.maxPollMs = opts.maxPollMs ?? 1000;
  }

  async touch(region: string, refs: ChunkRef[], sizes: Map<ChunkRef, number>): Promise<UploadTickets> {
    const token = 'p:' + crypto.randomBytes(6).toString('hex');
    const tickets: UploadTickets = new Map();
    let waiting = [...new Set(refs)].sort(); // one lock order for every writer
    let delay = this.pollMs;
    for (;;) {
      const seen = await retrying(() => this.upsert(region, waiting, sizes, token));
      for (const [ref, state] of seen) if (state !== 'live') tickets.set(ref, state);
      waiting = waiting.filter((r) => !seen.has(r));
      if (waiting.length === 0) return tickets;
      // The rest are being deleted. A deletion whose lease expired was abandoned: take the row over.
      const taken = await retrying(() => this.takeOver(region, waiting, token));
      for (const ref of taken) tickets.set(ref, token);
      waiting = waiting.filter((r) => !taken.has(r));
      if (waiting.length === 0) return tickets;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, this.maxPollMs);
    }
  }

  /** Inserts missing rows as pending, bumps touched_at of the others unless deleting; returns their states. */
  private async upsert(region: string, refs: ChunkRef[], sizes: Map<ChunkRef, number>, token: string) {
    const now = this.now();
    const seen = new Map<ChunkRef, string>();
    for (const part of batches(refs)) {
      const rows = part.map((ref) => ({ region, ref, size: sizes.get(ref) ?? 0, refcount: 0, state: token, touched_at: now }));
      const out = await this.db
        .insertInto('chunks')
        .values(rows)
        .onConflict((oc) =>
          oc
            .columns(['region', 'ref'])
            .doUpdateSet({ touched_at: now })
            .where('chunks.state', '<>', 'deleting'),
        )
        .returning(['ref', 'state'])
        .execute();
      for (const r of out) seen.set(r.ref, r.state);
    }
    return seen;
  }

  private async takeOver(region: string, refs: ChunkRef[], token: string): Promise<Set<ChunkRef>> {
    const now = this.now();
    const taken = new Set<ChunkRef>();
    for (const part of batches(refs)) {
      const out = await this.db
        .updateTable('chunks')
        .set({ state: token, touched_at: now })
        .where('region', '=', region)
        .where('ref', 'in', part)
        .where('state', '=', 'deleting')
        .where('touched_at', '<', now - this.leaseMs)
        .returning('ref')
        .execute();
      for (const r of out) taken.add(r.ref);
    }
    return taken;
  }

  async markStored(region: string, tickets: UploadTickets): Promise<ChunkRef[]> {
    const byToken = new Map<string, ChunkRef[]>();
    for (const [ref, token] of tickets) {
      const group = byToken.get(token);
      if (group) group.push(ref);
      else byToken.set(token, [ref]);
    }
    const marked = new Set<ChunkRef>();
    for (const [token, refs] of byToken) {
      for (const part of batches(refs.sort())) {
        const out = await retrying(() =>
          this.db
            .updateTable('chunks')
            .set({ state: 'live' })
            .where('region', '=', region)
            .where('ref', 'in', part)
            .where('state', 'in', [token, 'live'])
            .returning('ref')
            .execute(),
        );
        for (const r of out) marked.add(r.ref);
      }
    }
    return [...tickets.keys()].filter((r) => !marked.has(r));
  }

  async addRefs(region: string, refs: ChunkRef[]): Promise<void> {
    await retrying(() => this.db.transaction().execute((trx) => addRefsIn(trx, region, refs)));
  }

  async releaseRefs(region: string, refs: ChunkRef[]): Promise<void> {
    await retrying(() => this.db.transaction().execute((trx) => releaseRefsIn(trx, region, refs, this.now())));
  }

  async claimGarbage(region: string, cutoffMs: number, limit: number): Promise<GarbageClaim> {
    const now = this.now();
    const abandonedBefore = now - this.leaseMs;
    const claimable = (eb: ExpressionBuilder<Database, 'chunks'>) =>
      eb.and([
        eb('region', '=', region),
        eb('refcount', '=', 0),
        eb.or([
          eb.and([eb('state', '<>', 'deleting'), eb('touched_at', '<', cutoffMs)]),
          eb.and([eb('state', '=', 'deleting'), eb('touched_at', '<', abandonedBefore)]),
        ]),
      ]);
    // The outer WHERE repeats the conditions: PostgreSQL re-checks them on rows a concurrent touch changed.
    const out = await retrying(() =>
      this.db
        .updateTable('chunks')
        .set({ state: 'deleting', touched_at: now })
        .where(claimable)
        .where('ref', 'in', this.db.selectFrom('chunks').select('ref').where(claimable).orderBy('touched_at').limit(limit))
        .returning('ref')
        .execute(),
    );
    return { refs: out.map((r) => r.ref).sort(), claimedAt: now };
  }

  async forget(region: string, refs: ChunkRef[], claimedAt: number): Promise<void> {
    for (const part of batches([...new Set(refs)].sort())) {
      await retrying(() =>
        this.db
          .deleteFrom('chunks')
          .where('region', '=', region)
          .where('ref', 'in', part)
          .where('state', '=', 'deleting')
          .where('touched_at', '=', claimedAt)
          .execute(),
      );
    }
  }

  async claimOrphans(region: string, refs: ChunkRef[]): Promise<GarbageClaim> {
    const now = this.now();
    const claimed: ChunkRef[] = [];
    for (const part of batches([...new Set(refs)].sort())) {
      const rows = part.map((ref) => ({ region, ref, size: 0, refcount: 0, state: 'deleting', touched_at: now }));
      const out = await retrying(() =>
        this.db.insertInto('chunks').values(rows).onConflict((oc) => oc.columns(['region', 'ref']).doNothing()).returning('ref').execute(),
      );
      for (const r of out) claimed.push(r.ref);
    }
    return { refs: claimed.sort(), claimedAt: now };
  }
}

/**
 * +n per ref occurring n times, inside the caller's transaction. Throws ChunkNotLiveError when any ref
 * has no live row; the caller's transaction then rolls the increments back.
 */
export async function addRefsIn(db: Db, region: string, refs: ChunkRef[]): Promise<void> {
  let updated = 0;
  const byCount = groupByCount(refs);
  for (const [n, group] of byCount) {
    for (const part of batches(group)) {
      const res = await db
        .updateTable('chunks')
        .set({ refcount: sql`refcount + ${n}` })
        .where('region', '=', region)
        .where('ref', 'in', part)
        .where('state', '=', 'live')
        .executeTakeFirst();
      updated += Number(res.numUpdatedRows);
    }
  }
  const distinct = [...byCount.values()].flat();
  if (updated === distinct.length) return;
  const live = new Set<ChunkRef>();
  for (const part of batches(distinct)) {
    const rows = await db.selectFrom('chunks').select('ref').where('region', '=', region).where('ref', 'in', part).where('state', '=', 'live').execute();
    for (const r of rows) live.add(r.ref);
  }
  throw new ChunkNotLiveError(distinct.filter((r) => !live.has(r)));
}

/** -n per ref occurring n times (never below 0), restarting the grace period of each ref. */
export async function releaseRefsIn(db: Db, region: string, refs: ChunkRef[], now: number): Promise<void> {
  for (const [n, group] of groupByCount(refs)) {
    for (const part of batches(group)) {
      await db
        .updateTable('chunks')
        .set({ refcount: sql`case when refcount > ${n} then refcount - ${n} else 0 end`, touched_at: now })
        .where('region', '=', region)
        .where('ref', 'in', part)
        .execute();
    }
  }
}

/** Distinct refs grouped by how often they occur, each group sorted (one lock order). */
function groupByCount(refs: ChunkRef[]): Map<number, ChunkRef[]> {
  const counts = new Map<ChunkRef, number>();
  for (const r of refs) counts.set(r, (counts.get(r) ?? 0) + 1);
  const byCount = new Map<number, ChunkRef[]>();
  for (const [ref, n] of counts) {
    const group = byCount.get(n);
    if (group) group.push(ref);
    else byCount.set(n, [ref]);
  }
  for (const group of byCount.values()) group.sort();
  return byCount;
}

function* batches<T>(items: T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += BATCH) yield items.slice(i, i + BATCH);
}

/** PostgreSQL may abort one of two statements that lock rows in different orders; the retry is safe. */
export async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string })?.code;
      if (attempt >= 5 || (code !== '40P01' && code !== '40001')) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
    }
  }
}
