import type { Kysely } from 'kysely';

/**
 * Billing and Marketplace. `mp_products` are ISV products (their versions are images with category
 * `marketplace` and the product's code), `mp_subscriptions` who may run them. `billing_seats` remembers,
 * per system disk, what an instance is charged for (licence class, product, vCPUs) after its image is gone;
 * `billing_snapshot_history` keeps deleted snapshots' lifetimes. `usage_records` are append-only, one per
 * account + resource + kind + hour (the primary key makes a meter run idempotent). Money: integer micro-CNY.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('mp_products')
    .addColumn('code', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('isv_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addColumn('description', 'varchar(1024)', (c) => c.notNull().defaultTo(''))
    .addColumn('price_model', 'varchar(16)', (c) => c.notNull())
    .addColumn('hourly_tiers', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('monthly_micro', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('one_time_micro', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('regions', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createTable('mp_subscriptions')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('product_code', 'varchar(64)', (c) => c.notNull())
    .addColumn('months', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('amount_micro', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('mp_subscriptions_account').on('mp_subscriptions').columns(['account_id', 'product_code']).execute();
  await db.schema.createTable('billing_seats')
    .addColumn('disk_id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('instance_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('image_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('license_class', 'varchar(16)', (c) => c.notNull())
    .addColumn('product_code', 'varchar(64)', (c) => c.notNull())
    .addColumn('vcpu', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .execute();
  await db.schema.createIndex('billing_seats_instance').on('billing_seats').columns(['instance_id']).execute();
  await db.schema.createTable('billing_snapshot_history')
    .addColumn('snapshot_id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('unique_bytes', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createTable('usage_records')
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('hour', 'bigint', (c) => c.notNull())
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('quantity', 'bigint', (c) => c.notNull())
    .addColumn('unit_price_micro', 'bigint', (c) => c.notNull())
    .addColumn('amount_micro', 'bigint', (c) => c.notNull())
    .addColumn('product_code', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('payee_id', 'varchar(16)', (c) => c.notNull().defaultTo(''))
    .addColumn('detail', 'varchar(256)', (c) => c.notNull().defaultTo(''))
    .addColumn('recorded_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_records_pk', ['account_id', 'resource_id', 'kind', 'hour'])
    .execute();
  await db.schema.createIndex('usage_records_hour').on('usage_records').columns(['account_id', 'hour']).execute();
  await db.schema.createIndex('usage_records_payee').on('usage_records').columns(['payee_id', 'hour']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['usage_records', 'billing_snapshot_history', 'billing_seats', 'mp_subscriptions', 'mp_products']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
