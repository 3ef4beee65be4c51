import type { Kysely } from 'kysely';

/**
 * Glance metadata definitions (the catalog clients such as Horizon read): one row per namespace, its
 * objects, properties, tags and resource-type associations kept as one JSON document, changed in a transaction.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('glance_metadef_namespaces')
    .addColumn('namespace', 'varchar(80)', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(255)', (c) => c.notNull())
    .addColumn('document', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('glance_metadef_namespaces').execute();
}
