import type { Kysely } from 'kysely';

/**
 * Glance image locations (issue 12): the http(s) locations a client added through PATCH `/locations`, as a JSON
 * array of `{url, metadata}`. The chunk store's own copy is not listed here; it is shown from the image's manifests.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('glance_images').addColumn('locations', 'text', (c) => c.notNull().defaultTo('[]')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('glance_images').dropColumn('locations').execute();
}
