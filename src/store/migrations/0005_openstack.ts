import type { Kysely } from 'kysely';

/**
 * OpenStack: Keystone passwords (scrypt hashes) and the admin role on accounts; tokens, stored only as a
 * SHA-256 of the token so a database dump cannot replay them; Glance's attributes of an image that the ECS
 * model has no column for (`glance_images`, one row per image created or touched through Glance); image
 * members still pending or rejected (an accepted member is an ECS share, a row of `image_shares`).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('password_hash', 'varchar(256)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('accounts').addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.createTable('os_tokens')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('methods', 'varchar(64)', (c) => c.notNull())
    .addColumn('audit_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('access_key_id', 'varchar(32)', (c) => c.notNull().defaultTo(''))
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('os_tokens_expiry').on('os_tokens').columns(['expires_at']).execute();
  await db.schema.createTable('glance_images')
    .addColumn('image_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('disk_format', 'varchar(16)', (c) => c.notNull().defaultTo(''))
    .addColumn('container_format', 'varchar(16)', (c) => c.notNull().defaultTo(''))
    .addColumn('visibility', 'varchar(16)', (c) => c.notNull().defaultTo('shared'))
    .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('os_hidden', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('min_disk', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('min_ram', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('size', 'bigint')
    .addColumn('virtual_size', 'bigint')
    .addColumn('checksum', 'varchar(32)', (c) => c.notNull().defaultTo(''))
    .addColumn('os_hash_algo', 'varchar(16)', (c) => c.notNull().defaultTo(''))
    .addColumn('os_hash_value', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('file_manifest_id', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('phase', 'varchar(16)', (c) => c.notNull().defaultTo(''))
    .addColumn('stage_path', 'varchar(512)', (c) => c.notNull().defaultTo(''))
    .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.createTable('glance_members')
    .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('member_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('glance_members_pk', ['image_id', 'member_id'])
    .execute();
  await db.schema.createIndex('glance_members_member').on('glance_members').columns(['member_id', 'status']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['glance_members', 'glance_images', 'os_tokens']) await db.schema.dropTable(t).ifExists().execute();
  await db.schema.alterTable('accounts').dropColumn('is_admin').execute();
  await db.schema.alterTable('accounts').dropColumn('password_hash').execute();
}
