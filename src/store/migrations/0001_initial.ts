import type { Kysely } from 'kysely';

/** Accounts, images and their children, manifests, chunk refcounts, jobs, nonces and idempotency. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('accounts').ifNotExists()
    .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(128)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.createTable('access_keys').ifNotExists()
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull().references('accounts.id'))
    .addColumn('secret_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  // Public images keep one ID across regions, so the key is (region, id).
  await db.schema.createTable('images').ifNotExists()
    .addColumn('id', 'varchar(128)', (c) => c.notNull())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('owner_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('family', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('version', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('category', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('os_name', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('os_name_en', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('os_type', 'varchar(16)', (c) => c.notNull().defaultTo('linux'))
    .addColumn('platform', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('architecture', 'varchar(16)', (c) => c.notNull().defaultTo('x86_64'))
    .addColumn('boot_mode', 'varchar(16)', (c) => c.notNull().defaultTo('BIOS'))
    .addColumn('size_gib', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('is_support_cloudinit', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('is_support_io_optimized', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('product_code', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('license_type', 'varchar(16)', (c) => c.notNull().defaultTo(''))
    .addColumn('license_class', 'varchar(16)', (c) => c.notNull().defaultTo('none'))
    .addColumn('imds_support', 'varchar(8)', (c) => c.notNull().defaultTo('v1'))
    .addColumn('nvme_support', 'varchar(16)', (c) => c.notNull().defaultTo('unsupported'))
    .addColumn('source_kind', 'varchar(32)', (c) => c.notNull().defaultTo(''))
    .addColumn('source_id', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('is_copied', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('encrypted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('kms_key_id', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('is_public', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error_code', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('error_message', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('images_pk', ['region', 'id'])
    .execute();
  await db.schema.createIndex('images_id').ifNotExists().on('images').column('id').execute();
  // Listing indexes: each DescribeImages visibility part (own / by category) filters and orders on one of these;
  // the trailing columns cover the common filters, so counts and pages need no table lookups.
  const covered = ['family', 'architecture', 'os_type', 'name'];
  await db.schema.createIndex('images_owner_status').ifNotExists().on('images').columns(['region', 'owner_id', 'category', 'status', 'created_at', 'id', ...covered]).execute();
  await db.schema.createIndex('images_owner_created').ifNotExists().on('images').columns(['region', 'owner_id', 'category', 'created_at', 'id']).execute();
  await db.schema.createIndex('images_category_status').ifNotExists().on('images').columns(['region', 'category', 'status', 'created_at', 'id', ...covered]).execute();
  await db.schema.createIndex('images_family').ifNotExists().on('images').columns(['region', 'family', 'status', 'created_at']).execute();

  await db.schema.createTable('image_disks').ifNotExists()
    .addColumn('image_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('type', 'varchar(8)', (c) => c.notNull())
    .addColumn('device', 'varchar(32)', (c) => c.notNull())
    .addColumn('size_gib', 'integer', (c) => c.notNull())
    .addColumn('snapshot_id', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('format', 'varchar(16)', (c) => c.notNull().defaultTo(''))
    .addColumn('import_bucket', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('import_object', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('image_disks_pk', ['image_id', 'idx'])
    .execute();
  await db.schema.createIndex('image_disks_snapshot').ifNotExists().on('image_disks').column('snapshot_id').execute();

  await db.schema.createTable('image_shares').ifNotExists()
    .addColumn('image_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_shares_pk', ['image_id', 'account_id'])
    .execute();
  await db.schema.createIndex('image_shares_account').ifNotExists().on('image_shares').column('account_id').execute();

  await db.schema.createTable('tags').ifNotExists()
    .addColumn('resource_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('resource_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('tag_key', 'varchar(128)', (c) => c.notNull())
    .addColumn('tag_value', 'varchar(128)', (c) => c.notNull())
    .addPrimaryKeyConstraint('tags_pk', ['resource_id', 'tag_key'])
    .execute();
  await db.schema.createIndex('tags_kv').ifNotExists().on('tags').columns(['tag_key', 'tag_value']).execute();

  await db.schema.createTable('manifests').ifNotExists()
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('virtual_size', 'bigint', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('holders', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.createTable('chunks').ifNotExists()
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('ref', 'varchar(80)', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('refcount', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('state', 'varchar(16)', (c) => c.notNull().defaultTo('live'))
    .addColumn('touched_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('chunks_pk', ['region', 'ref'])
    .execute();
  await db.schema.createIndex('chunks_gc').ifNotExists().on('chunks').columns(['region', 'refcount', 'touched_at']).execute();

  await db.schema.createTable('jobs').ifNotExists()
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull().defaultTo(3))
    .addColumn('run_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'varchar(64)')
    .addColumn('lease_until', 'bigint')
    .addColumn('error_code', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('error_message', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('result', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema.createIndex('jobs_claim').ifNotExists().on('jobs').columns(['state', 'run_at']).execute();
  await db.schema.createIndex('jobs_account').ifNotExists().on('jobs').columns(['account_id', 'region', 'created_at']).execute();

  await db.schema.createTable('nonces').ifNotExists()
    .addColumn('nonce', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('nonces_expiry').ifNotExists().on('nonces').column('expires_at').execute();

  await db.schema.createTable('idempotency').ifNotExists()
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('token', 'varchar(64)', (c) => c.notNull())
    .addColumn('params_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('response', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_pk', ['account_id', 'action', 'token'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['idempotency', 'nonces', 'jobs', 'chunks', 'manifests', 'tags', 'image_shares', 'image_disks', 'images', 'access_keys', 'accounts']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
