/**
 * Signature nonces seen within the replay window. They live in the metadata store, so a nonce used on one
 * node is refused on every node that shares the database.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Clock } from '../domain/clock.ts';

export interface NonceStore {
  /** Records `key` until `expiresAt`; false when it was recorded before and has not expired. */
  use(key: string, expiresAt: number): Promise<boolean>;
}

/** Expired rows are deleted every this many inserts. */
const CLEANUP_EVERY = 1000;

export function kyselyNonceStore(db: Kysely<Database>, clock: Clock): NonceStore {
  let sinceCleanup = 0;
  return {
    async use(key, expiresAt) {
      const now = clock.now();
      if (++sinceCleanup >= CLEANUP_EVERY) {
        sinceCleanup = 0;
        await db.deleteFrom('nonces').where('expires_at', '<', now).execute();
      }
      const r = await db.insertInto('nonces').values({ nonce: key, expires_at: expiresAt })
        .onConflict((oc) => oc.column('nonce').doNothing()).executeTakeFirst();
      if (Number(r.numInsertedOrUpdatedRows ?? 0) === 1) return true;
      // A nonce whose window has passed may be reused.
      const u = await db.updateTable('nonces').set({ expires_at: expiresAt }).where('nonce', '=', key).where('expires_at', '<', now).executeTakeFirst();
      return Number(u.numUpdatedRows) === 1;
    },
  };
}
