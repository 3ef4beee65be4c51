/**
 * The garbage collector for one region: claims refcount-0 chunks past the grace period (rows flip to
 * `deleting`), deletes their bytes while the claim's lease holds, then forgets the rows. Deleting bytes
 * before forgetting the row is what lets `touch` wait for (or, after the lease, take over) a deletion.
 */
import type { ChunkIndex, ChunkRef, ChunkStore, GarbageClaim } from './types.ts';
import { createLimiter } from './limit.ts';

export interface GcOptions {
  index: ChunkIndex;
  store: ChunkStore;
  region: string;
  /** Chunks unreferenced and untouched for less than this are kept (imports in progress use them). */
  graceMs: number;
  now?: () => number;
  batchSize?: number;
  concurrency?: number;
  /** Leave this much of the lease unused, for a delete already sent when the lease ends. */
  leaseMarginMs?: number;
  /** Also list the store and delete bytes that have no row (costly on S3: one LIST per 1000 chunks). */
  sweepOrphans?: boolean;
}

export interface GcResult {
  claimed: number;
  deleted: number;
  /** Claimed but left alone because the lease ran out first; a later run or a touch finishes them. */
  expired: number;
  /** Stored bytes without a row that were deleted (included in `deleted`). */
  orphans: number;
}

export async function collectGarbage(opts: GcOptions): Promise<GcResult> {
  const now = opts.now ?? Date.now;
  const batchSize = opts.batchSize ?? 256;
  const result: GcResult = { claimed: 0, deleted: 0, expired: 0, orphans: 0 };
  if (opts.sweepOrphans) await sweepOrphans(opts, result);
  for (;;) {
    const claim = await opts.index.claimGarbage(opts.region, now() - opts.graceMs, batchSize);
    const { refs } = claim;
    if (refs.length === 0) return result;
    result.claimed += refs.length;
    const { deleted, expired, errors } = await deleteClaimed(claim, opts);
    result.deleted += deleted.length;
    result.expired += expired.length;
    await opts.index.forget(opts.region, deleted, claim.claimedAt);
    // Rows whose delete failed stay `deleting`; after the lease a later run (or a touch) finishes them.
    if (errors.length > 0) throw errors[0];
    if (refs.length < batchSize || expired.length > 0) return result;
  }
}

async function sweepOrphans(opts: GcOptions, result: GcResult): Promise<void> {
  const batchSize = opts.batchSize ?? 256;
  let listed: ChunkRef[] = [];
  const sweep = async () => {
    const claim = await opts.index.claimOrphans(opts.region, listed);
    listed = [];
    const { deleted, errors } = await deleteClaimed(claim, opts);
    result.orphans += deleted.length;
    result.deleted += deleted.length;
    await opts.index.forget(opts.region, deleted, claim.claimedAt);
    if (errors.length > 0) throw errors[0];
  };
  for await (const ref of opts.store.list()) {
    listed.push(ref);
    if (listed.length >= batchSize) await sweep();
  }
  if (listed.length > 0) await sweep();
}

/**
 * Deletes the bytes of claimed refs, each only while the claim is still valid.
 * Exported so tests can run a collector step by step.
 */
export async function deleteClaimed(
  { refs, claimedAt }: GarbageClaim,
  opts: Pick<GcOptions, 'index' | 'store' | 'now' | 'concurrency' | 'leaseMarginMs'>,
): Promise<{ deleted: ChunkRef[]; expired: ChunkRef[]; errors: unknown[] }> {
  const now = opts.now ?? Date.now;
  const margin = opts.leaseMarginMs ?? Math.min(60_000, opts.index.leaseMs / 10);
  const deadline = claimedAt + opts.index.leaseMs - margin;
  const limit = createLimiter(opts.concurrency ?? 8);
  const deleted: ChunkRef[] = [];
  const expired: ChunkRef[] = [];
  const errors: unknown[] = [];
  await Promise.all(
    refs.map((ref) =>
      limit.run(async () => {
        if (now() >= deadline) {
          expired.push(ref);
          return;
        }
        try {
          await opts.store.delete(ref);
          deleted.push(ref);
        } catch (err) {
          errors.push(err);
        }
      }),
    ),
  );
  return { deleted, expired, errors };
}
