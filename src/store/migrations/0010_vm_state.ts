import type { Kysely } from 'kysely';

/**
 * Instances as VMs (issue 16): `stop_reason` says why an instance last stopped when its VM ended by itself
 * (guest power-off, crash, start failure, service restart); `instance_consoles` keeps the serial console of each
 * instance's current or last VM (the last 64 KiB, base64), so it outlives a service restart.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('instances').addColumn('stop_reason', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.createTable('instance_consoles')
    .addColumn('instance_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('output_base64', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('instance_consoles').execute();
  await db.schema.alterTable('instances').dropColumn('stop_reason').execute();
}
