import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.ts';

/**
 * Nodes keep AccessKeys they have read in memory (services/access-key-cache.ts). On PostgreSQL every change to
 * `access_keys` other than a new key (an update, a delete, a truncate: from any node or by hand) notifies channel
 * `imagehouse_access_keys` when it commits, and each node drops what it kept (store/change-epoch.ts). SQLite needs
 * nothing here: one process owns the file and `PRAGMA data_version` shows another connection's commits.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`create function imagehouse_access_keys_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('imagehouse_access_keys', '');
      return null;
    end $$`.execute(db);
  await sql`create trigger access_keys_changed after update or delete or truncate on access_keys
    for each statement execute function imagehouse_access_keys_changed()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`drop trigger if exists access_keys_changed on access_keys`.execute(db);
  await sql`drop function if exists imagehouse_access_keys_changed()`.execute(db);
}
