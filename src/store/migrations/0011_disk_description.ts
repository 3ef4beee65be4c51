import type { Kysely } from 'kysely';

/** A disk's Description, as CreateDisk takes it and DescribeDisks shows it. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('disks').addColumn('description', 'text', (c) => c.notNull().defaultTo('')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('disks').dropColumn('description').execute();
}
