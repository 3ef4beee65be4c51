import type { Kysely } from 'kysely';

/**
 * Where a disk came from, as ReInitDisk needs it once the source image is gone: its owner tells
 * `InvalidDiskId.OperationNotSupported` (own image deleted) from `SharedImageDeleted` (another account's).
 * Instances keep the OS facts of their image, which DescribeInstances shows after the image is deleted.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('disks').addColumn('source_image_owner_id', 'varchar(16)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('instances').addColumn('os_name', 'varchar(128)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('instances').addColumn('os_name_en', 'varchar(128)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('instances').addColumn('os_type', 'varchar(16)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.createIndex('disks_source_image').ifNotExists().on('disks').columns(['region', 'source_image_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('disks_source_image').ifExists().execute();
  await db.schema.alterTable('disks').dropColumn('source_image_owner_id').execute();
  for (const c of ['os_name', 'os_name_en', 'os_type']) await db.schema.alterTable('instances').dropColumn(c).execute();
}
