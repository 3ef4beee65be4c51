/**
 * Image counts from `image_counts`, which triggers keep in the same transaction as every write to `images`
 * (migration 0013): exact on every node, with no cache to invalidate. A listing whose only conditions are
 * region, owner, category and status reads its TotalCount here instead of counting its rows.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Dialect } from './dialect.ts';
import { prepared } from './prepared.ts';

export interface ImageCountKey {
  region: string;
  category: string;
  /** Absent: every owner (system and Marketplace images). */
  ownerId?: string;
  /** Absent: every status. */
  statuses?: string[];
}

/** PostgreSQL appends a delta row per write; a reader that finds more than this many folds them into one per key. */
const FOLD_AT = 32;

/**
 * A key's sum and its number of delta rows, built once per shape (store/prepared.ts): `owner` and `statuses` are
 * empty for every owner and every status, and their lengths are part of the shape.
 */
const countRows = prepared((db: Kysely<Database>, region: string, category: string, owner: string[], statuses: string[]) => {
  let q = db.selectFrom('image_counts').where('region', '=', region).where('category', '=', category)
    .select((eb) => [eb.fn.sum<number>('n').as('total'), eb.fn.countAll<number>().as('rows')]);
  if (owner.length) q = q.where('owner_id', '=', owner[0]);
  if (statuses.length) q = q.where('status', 'in', statuses);
  return q;
});

export async function countImages(db: Kysely<Database>, dialect: Dialect, key: ImageCountKey): Promise<number> {
  if (key.statuses?.length === 0) return 0;
  const [r] = await countRows(db, key.region, key.category, key.ownerId === undefined ? [] : [key.ownerId], key.statuses ?? []);
  // Folding only tidies: the count above is already exact. Two readers folding overlapping keys at once may meet as a
  // deadlock or serialization failure, and then the one PostgreSQL picks leaves its deltas for a later reader.
  if (dialect === 'postgres' && Number(r.rows) > FOLD_AT) await fold(db, key).catch(() => {});
  return Number(r.total ?? 0);
}

/**
 * Replaces a key's delta rows by their sums in one statement. Each delta is deleted by one transaction only, which
 * inserts its sum in the same commit, so readers and concurrent folds see every image counted once.
 */
async function fold(db: Kysely<Database>, key: ImageCountKey): Promise<void> {
  const owner = key.ownerId === undefined ? sql`` : sql` and owner_id = ${key.ownerId}`;
  const status = key.statuses ? sql` and status in (${sql.join(key.statuses)})` : sql``;
  await sql`with gone as (
      delete from image_counts where region = ${key.region} and category = ${key.category}${owner}${status} returning owner_id, status, n
    )
    insert into image_counts (region, owner_id, category, status, n)
    select ${key.region}, owner_id, ${key.category}, status, sum(n) from gone group by owner_id, status having sum(n) <> 0`.execute(db);
}
