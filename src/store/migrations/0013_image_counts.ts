import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.ts';

/**
 * `image_counts`: how many images each (region, owner, category, status) holds, kept by triggers in the same
 * transaction as every write to `images`, so a listing's TotalCount is exact on every node without counting rows
 * (store/image-counts.ts reads it).
 * - SQLite (one writer at a time): one row per key, updated in place by row triggers.
 * - PostgreSQL: statement triggers append one delta row per key a statement changed, so concurrent writers never
 *   wait on a shared counter row; readers sum the deltas, and a reader that finds many folds them into one row.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = dialectOf(db) === 'postgres';
  await db.schema.createTable('image_counts')
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('owner_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('category', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .execute();
  const keyed = db.schema.createIndex('image_counts_key').on('image_counts').columns(['region', 'owner_id', 'category', 'status']);
  await (postgres ? keyed : keyed.unique()).execute();
  await db.schema.createIndex('image_counts_category').on('image_counts').columns(['region', 'category', 'status']).execute();
  await sql`insert into image_counts (region, owner_id, category, status, n)
    select region, owner_id, category, status, count(*) from images group by region, owner_id, category, status`.execute(db);
  if (postgres) {
    // A transition table may name one event only: a function and a trigger per event.
    await sql`create function image_counts_insert() returns trigger language plpgsql as $$
      begin
        insert into image_counts (region, owner_id, category, status, n)
        select region, owner_id, category, status, count(*) from new_rows group by region, owner_id, category, status;
        return null;
      end $$`.execute(db);
    await sql`create function image_counts_delete() returns trigger language plpgsql as $$
      begin
        insert into image_counts (region, owner_id, category, status, n)
        select region, owner_id, category, status, -count(*) from old_rows group by region, owner_id, category, status;
        return null;
      end $$`.execute(db);
    await sql`create function image_counts_update() returns trigger language plpgsql as $$
      begin
        insert into image_counts (region, owner_id, category, status, n)
        select region, owner_id, category, status, sum(d) from (
          select region, owner_id, category, status, 1 as d from new_rows
          union all
          select region, owner_id, category, status, -1 as d from old_rows
        ) x group by region, owner_id, category, status having sum(d) <> 0;
        return null;
      end $$`.execute(db);
    await sql`create trigger image_counts_insert after insert on images referencing new table as new_rows
      for each statement execute function image_counts_insert()`.execute(db);
    await sql`create trigger image_counts_delete after delete on images referencing old table as old_rows
      for each statement execute function image_counts_delete()`.execute(db);
    await sql`create trigger image_counts_update after update on images referencing old table as old_rows new table as new_rows
      for each statement execute function image_counts_update()`.execute(db);
  } else {
    const bump = (row: 'new' | 'old', n: 1 | -1) => sql.raw(`insert into image_counts (region, owner_id, category, status, n)
      values (${row}.region, ${row}.owner_id, ${row}.category, ${row}.status, ${n})
      on conflict (region, owner_id, category, status) do update set n = n + excluded.n;`);
    await sql`create trigger image_counts_insert after insert on images begin ${bump('new', 1)} end`.execute(db);
    await sql`create trigger image_counts_delete after delete on images begin ${bump('old', -1)} end`.execute(db);
    await sql`create trigger image_counts_update after update of region, owner_id, category, status on images
      when old.region is not new.region or old.owner_id is not new.owner_id or old.category is not new.category or old.status is not new.status
      begin ${bump('old', -1)} ${bump('new', 1)} end`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = dialectOf(db) === 'postgres';
  for (const t of ['image_counts_insert', 'image_counts_delete', 'image_counts_update']) {
    await sql.raw(`drop trigger if exists ${t}${postgres ? ' on images' : ''}`).execute(db);
    if (postgres) await sql.raw(`drop function if exists ${t}()`).execute(db);
  }
  await db.schema.dropTable('image_counts').execute();
}
