/**
 * Signature nonces seen within the replay window. They live in the metadata store, so a nonce used on one
 * node is refused on every node that shares the database.
 *
 * Group commit: requests that arrive while a write is in flight (or in the same event-loop turn) are recorded
 * together by one upsert, and each awaits its batch. The store stays the judge (the upsert decides per nonce,
 * atomically against other nodes), so batching changes the cost, not the answer: one statement and one
 * transaction per batch instead of one per request.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Clock } from '../domain/clock.ts';
import { prepared } from './prepared.ts';

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

interface Waiter { key: string; expiresAt: number; resolve(fresh: boolean): void; reject(err: unknown): void }

export function kyselyNonceStore(db: Kysely<Database>, clock: Clock): NonceStore {
  let sinceCleanup = 0;
  let queue: Waiter[] = [];
  let running = false;

  /**
   * Inserts the batch's new nonces and renews expired ones in one statement; the rows it returns are the fresh
   * ones. A key named twice in one batch is fresh at most once (the first asker wins, as it would one at a time).
   */
  async function record(batch: Waiter[]): Promise<void> {
    const now = clock.now();
    const first = new Map<string, Waiter>();
    for (const w of batch) if (!first.has(w.key)) first.set(w.key, w);
    if ((sinceCleanup += first.size) >= CLEANUP_EVERY) {
      sinceCleanup = 0;
      await db.deleteFrom('nonces').where('expires_at', '<', now).execute();
    }
    const fresh = new Set<string>();
    const rows = [...first.values()].map((w) => ({ nonce: w.key, expires_at: w.expiresAt }));
    for (let i = 0; i < rows.length; i += BATCH_ROWS) {
      const part = rows.slice(i, i + BATCH_ROWS);
      const written = await upsertNonces(db, part.map((r) => r.nonce), part.map((r) => r.expires_at), now);
      for (const r of written) fresh.add(r.nonce);
    }
    // Each waiter goes on in its own turn of the event loop: on SQLite a request's queries run synchronously, so
    // resolving the batch at once would run every request of the batch to its end inside this one callback.
    for (const w of batch) setImmediate(w.resolve, first.get(w.key) === w && fresh.has(w.key));
  }

  async function drain(): Promise<void> {
    running = true;
    while (queue.length) {
      const batch = queue;
      queue = [];
      await record(batch).catch((err) => { for (const w of batch) setImmediate(w.reject, err); });
    }
    running = false;
  }

  return {
    use(key, expiresAt) {
      return new Promise<boolean>((resolve, reject) => {
        queue.push({ key, expiresAt, resolve, reject });
        // The first request of a batch waits one turn, so the others that arrived with it join.
        if (!running) { running = true; setImmediate(() => void drain()); }
      });
    },
  };
}
