/**
 * Signature nonces seen within the replay window. They live in the metadata store, so a nonce used on one
 * node is refused on every node that shares the database.
 *
 * Group commit (store/group.ts): requests that arrive while a write is in flight are recorded together by one upsert.
 * The store stays the judge (the upsert decides per nonce, atomically against other nodes): one statement and one
 * transaction per batch instead of one per request.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Clock } from '../domain/clock.ts';
import { prepared } from './prepared.ts';
import { grouped } from './group.ts';

export interface NonceStore {
  /** Records `key` until `expiresAt`; false when it was recorded before and has not expired. */
  use(key: string, expiresAt: number): Promise<boolean>;
}

/** Expired rows are deleted every this many inserts. */
const CLEANUP_EVERY = 1000;
/** Rows per statement (two parameters each, well under SQLite's and PostgreSQL's parameter limits). */
const BATCH_ROWS = 500;

/** Inserts new nonces and renews expired ones; returns the rows it wrote (built once per batch size: store/prepared.ts). */
const upsertNonces = prepared((db: Kysely<Database>, keys: string[], expiries: number[], now: number) =>
  db.insertInto('nonces').values(keys.map((nonce, i) => ({ nonce, expires_at: expiries[i] })))
    // A nonce whose window has passed may be reused.
    .onConflict((oc) => oc.column('nonce').doUpdateSet((eb) => ({ expires_at: eb.ref('excluded.expires_at') })).where('nonces.expires_at', '<', now))
    .returning('nonce'));

export function kyselyNonceStore(db: Kysely<Database>, clock: Clock): NonceStore {
  let sinceCleanup = 0;

  /**
   * Inserts the batch's new nonces and renews expired ones in one statement; the rows it returns are the fresh
   * ones. A key named twice in one batch is fresh at most once (the first asker wins, as it would one at a time).
   */
  const use = grouped(async (batch: { key: string; expiresAt: number }[]): Promise<boolean[]> => {
    const now = clock.now();
    const first = new Map<string, { key: string; expiresAt: number }>();
    for (const w of batch) if (!first.has(w.key)) first.set(w.key, w);
    if ((sinceCleanup += first.size) >= CLEANUP_EVERY) {
      sinceCleanup = 0;
      await db.deleteFrom('nonces').where('expires_at', '<', now).execute();
    }
    const fresh = new Set<string>();
    const rows = [...first.values()];
    for (let i = 0; i < rows.length; i += BATCH_ROWS) {
      const part = rows.slice(i, i + BATCH_ROWS);
      const written = await upsertNonces(db, part.map((r) => r.key), part.map((r) => r.expiresAt), now);
      for (const r of written) fresh.add(r.nonce);
    }
    return batch.map((w) => first.get(w.key) === w && fresh.has(w.key));
  });

  return { use: (key, expiresAt) => use({ key, expiresAt }) };
}
