import type { Kysely } from 'kysely';

/** Instances, disks and snapshots (copy-on-write manifests), and object buckets standing in for OSS. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('instances').ifNotExists()
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('zone', 'varchar(64)', (c) => c.notNull())
    .addColumn('owner_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addColumn('instance_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('image_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('charge_type', 'varchar(16)', (c) => c.notNull().defaultTo('PostPaid'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('instances_owner').ifNotExists().on('instances').columns(['owner_id', 'region', 'created_at']).execute();
  await db.schema.createIndex('instances_image').ifNotExists().on('instances').columns(['region', 'image_id']).execute();

  await db.schema.createTable('disks').ifNotExists()
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('zone', 'varchar(64)', (c) => c.notNull())
    .addColumn('owner_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('instance_id', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('name', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('type', 'varchar(8)', (c) => c.notNull())
    .addColumn('category', 'varchar(32)', (c) => c.notNull())
    .addColumn('size_gib', 'integer', (c) => c.notNull())
    .addColumn('device', 'varchar(32)', (c) => c.notNull().defaultTo(''))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('source_image_id', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('source_snapshot_id', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('manifest_id', 'varchar(64)', (c) => c.notNull())
    /** Bumped on every content write: writers swap manifests only from the version they read. */
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('delete_with_instance', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('disks_owner').ifNotExists().on('disks').columns(['owner_id', 'region', 'created_at']).execute();
  await db.schema.createIndex('disks_instance').ifNotExists().on('disks').column('instance_id').execute();
  await db.schema.createIndex('disks_source_snapshot').ifNotExists().on('disks').column('source_snapshot_id').execute();

  await db.schema.createTable('snapshots').ifNotExists()
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('owner_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('name', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('source_disk_id', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('source_disk_type', 'varchar(8)', (c) => c.notNull().defaultTo('system'))
    .addColumn('source_disk_size_gib', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('source_snapshot_id', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('source_region', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('snapshot_type', 'varchar(8)', (c) => c.notNull().defaultTo('user'))
    .addColumn('manifest_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(100))
    /** Bytes of chunks this snapshot holds that its source disk's image did not: what billing charges. */
    .addColumn('unique_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('retention_days', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('snapshots_owner').ifNotExists().on('snapshots').columns(['owner_id', 'region', 'created_at']).execute();
  await db.schema.createIndex('snapshots_disk').ifNotExists().on('snapshots').column('source_disk_id').execute();

  await db.schema.createTable('buckets').ifNotExists()
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('owner_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['buckets', 'snapshots', 'disks', 'instances']) await db.schema.dropTable(t).ifExists().execute();
}
