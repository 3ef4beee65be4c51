/**
 * A reader's hold on a manifest (an NBD export, a ranged disk read), kept as a `read_holds` row with a lease.
 * The holder renews the lease while it reads. A node that dies mid-read leaves an expired row: the manifest
 * sweep then treats the manifest like any other that nobody points at, so the hold is never leaked. While
 * the lease is valid the sweep leaves the manifest alone, so a reader on any node never loses its chunks.
 */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { ManifestRepo, releaseManifestIn } from './manifests.ts';
import { retrying } from './chunk-index.ts';

/** Long enough to ride out a slow statement; short enough that a dead node's holds come back soon after. */
export const READ_HOLD_LEASE_MS = 60_000;

export interface ReadHold {
  readonly manifestId: string;
  /** Gives the hold back (once; later calls do nothing). */
  release(): Promise<void>;
}

/** Holds `manifestId` for reading; undefined when the manifest is gone (its last holder released it). */
export async function holdForRead(db: Kysely<Database>, manifestId: string, now: () => number, leaseMs = READ_HOLD_LEASE_MS): Promise<ReadHold | undefined> {
  const id = 'rh-' + crypto.randomBytes(12).toString('hex');
  const held = await retrying(() => db.transaction().execute(async (trx) => {
    if (!(await new ManifestRepo(trx).hold(manifestId))) return false;
    await trx.insertInto('read_holds').values({ id, manifest_id: manifestId, expires_at: now() + leaseMs }).execute();
    return true;
  }));
  if (!held) return undefined;
  // A failed renewal is retried at the next tick; a hold whose lease ran out only matters once nothing else holds the manifest.
  const renew = setInterval(() => {
    db.updateTable('read_holds').set({ expires_at: now() + leaseMs }).where('id', '=', id).execute().catch(() => {});
  }, Math.max(1, Math.floor(leaseMs / 3)));
  renew.unref();
  let released = false;
  return {
    manifestId,
    async release() {
      if (released) return;
      released = true;
      clearInterval(renew);
      await retrying(() => db.transaction().execute(async (trx) => {
        const gone = await trx.deleteFrom('read_holds').where('id', '=', id).executeTakeFirst();
        // The sweep may have reclaimed an expired hold already; then its count is not ours to give back.
        if (Number(gone.numDeletedRows) === 1) await releaseManifestIn(trx, manifestId, now());
      }));
    },
  };
}

/**
 * Gives back the holds of readers that died (their lease ran out), including on manifests a snapshot or disk still
 * holds: without this, a node killed mid-export would leave such a manifest one holder too many until its
 * snapshot went. A reader that was only slow finds its row gone at release and gives back nothing twice.
 */
export async function reclaimExpiredReadHolds(db: Kysely<Database>, now: number, limit = 500): Promise<number> {
  const expired = await db.selectFrom('read_holds').select(['id', 'manifest_id']).where('expires_at', '<=', now).limit(limit).execute();
  let reclaimed = 0;
  for (const hold of expired) {
    reclaimed += await retrying(() => db.transaction().execute(async (trx) => {
      const gone = await trx.deleteFrom('read_holds').where('id', '=', hold.id).where('expires_at', '<=', now).executeTakeFirst();
      if (Number(gone.numDeletedRows) !== 1) return 0;
      await releaseManifestIn(trx, hold.manifest_id, now);
      return 1;
    }));
  }
  return reclaimed;
}

/** Manifests a reader holds under a valid lease: the manifest sweep must not reclaim them. */
export function liveReadHolds(db: Kysely<Database>, now: number) {
  return db.selectFrom('read_holds').select('manifest_id').where('expires_at', '>', now);
}
