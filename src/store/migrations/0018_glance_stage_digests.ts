import type { Kysely } from 'kysely';

/**
 * `glance_images.stage_md5` and `stage_sha512`: the digests PUT /stage took while spooling, so a glance-direct
 * import does not read the staged bytes a second time to hash them ('' for a stage made before this migration).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('glance_images').addColumn('stage_md5', 'varchar(32)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('glance_images').addColumn('stage_sha512', 'varchar(128)', (c) => c.notNull().defaultTo('')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('glance_images').dropColumn('stage_sha512').execute();
  await db.schema.alterTable('glance_images').dropColumn('stage_md5').execute();
}
