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

/** A key's sum and its number of delta rows, as read by `countOf` / selected by `countColumns`. */
export interface CountRow {
  count_total: number | string | null;
  count_rows: number | string | null;
}

/** The `image_counts` rows of a key: `owner` and `statuses` are empty for every owner and every status. */
function keyRows(db: Kysely<Database>, region: string, category: string, owner: string[], statuses: string[]) {
  let q = db.selectFrom('image_counts').where('region', '=', region).where('category', '=', category);
  if (owner.length) q = q.where('owner_id', '=', owner[0]);
  if (statuses.length) q = q.where('status', 'in', statuses);
  return q;
}

/**
 * A key's sum and delta rows as two columns (`CountRow`) of a statement that reads something else too, such as a
 * page of the images counted: one round trip for both, and both from one snapshot. Binds its arguments as values
 * (store/prepared.ts).
 */
export function countColumns(db: Kysely<Database>, region: string, category: string, owner: string[], statuses: string[]) {
  return [
    keyRows(db, region, category, owner, statuses).select((eb) => eb.fn.sum<number>('n').as('t')).as('count_total'),
    keyRows(db, region, category, owner, statuses).select((eb) => eb.fn.countAll<number>().as('r')).as('count_rows'),
  ] as const;
}

/** A key's count, built once per shape (store/prepared.ts); the lengths of `owner` and `statuses` are part of it. */
const countRows = prepared((db: Kysely<Database>, region: string, category: string, owner: string[], statuses: string[]) =>
  keyRows(db, region, category, owner, statuses).select((eb) => [eb.fn.sum<number>('n').as('count_total'), eb.fn.countAll<number>().as('count_rows')]));

export async function countImages(db: Kysely<Database>, dialect: Dialect, key: ImageCountKey): Promise<number> {
  if (key.statuses?.length === 0) return 0;
  const [r] = await countRows(db, key.region, key.category, key.ownerId === undefined ? [] : [key.ownerId], key.statuses ?? []);
  return countOf(db, dialect, key, r);
}

/** The count in `r` (read by countImages or selected by countColumns for `key`); folds the key's deltas when they have piled up. */
export async function countOf(db: Kysely<Database>, dialect: Dialect, key: ImageCountKey, r: CountRow): Promise<number> {
  // Folding only tidies: the count is already exact. Two readers folding overlapping keys at once may meet as a
  // deadlock or serialization failure, and then the one PostgreSQL picks leaves its deltas for a later reader.
  if (dialect === 'postgres' && Number(r.count_rows) > FOLD_AT) await fold(db, key).catch(() => {});
  return Number(r.count_total ?? 0);
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
