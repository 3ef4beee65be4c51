import type { Kysely } from 'kysely';

/**
 * Several nodes on one database (issue 14):
 * - `console_sessions`: console sign-ins, so a session made on one node is valid on every node. The key is a
 *   hash of the cookie value: the table alone never yields a usable cookie.
 * - `read_holds`: a reader's hold on a manifest (an export, a ranged read) as a row with a lease. A node that
 *   dies while reading leaves the row behind; its lease runs out and the sweep gives the hold back.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('console_sessions')
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('access_key_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('csrf_token', 'varchar(64)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('console_sessions_expiry').on('console_sessions').column('expires_at').execute();
  await db.schema.createTable('read_holds')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('manifest_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('read_holds_expiry').on('read_holds').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('read_holds').execute();
  await db.schema.dropTable('console_sessions').execute();
}
