import type { Kysely } from 'kysely';

/**
 * Glance's default listing (newest first, id as the tie-break) over every image a viewer may see. Its visibility is
 * one OR across owners, categories and members, which no owner or category index answers in order; with this index
 * the database walks the region newest first and stops after the page instead of sorting every image of the region.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('images_region_created').ifNotExists().on('images').columns(['region', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('images_region_created').ifExists().execute();
}
