import type { Kysely } from 'kysely';

/**
 * What an import made of a bucket object it read (issue 15): a later import of the same, unchanged object (same
 * version identity, same declared format) takes a hold on the manifest instead of reading and hashing it again.
 * - `source`: SHA-256 hex of the object's version identity and the declared format (import-memo.ts).
 * - `manifest_id`: the manifest the import committed. Never a hold itself: the row goes when the manifest does.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('import_memos')
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('source', 'varchar(64)', (c) => c.notNull())
    .addColumn('manifest_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('format', 'varchar(16)', (c) => c.notNull())
    .addColumn('virtual_size', 'bigint', (c) => c.notNull())
    .addColumn('unique_bytes', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('import_memos_pk', ['region', 'source'])
    .execute();
  await db.schema.createIndex('import_memos_manifest').on('import_memos').column('manifest_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('import_memos').execute();
}
