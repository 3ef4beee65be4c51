import type { Kysely } from 'kysely';

/**
 * Image kinds (issue 13): `image_kind` is system | data | whole (domain/image-kinds.ts), and `share_family`
 * says under whose sharing rules the image was made ('ims' = through a Huawei IMS project, 128 tenants;
 * '' = Alibaba-style, 50).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('images').addColumn('image_kind', 'varchar(8)', (c) => c.notNull().defaultTo('system')).execute();
  await db.schema.alterTable('images').addColumn('share_family', 'varchar(8)', (c) => c.notNull().defaultTo('')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('images').dropColumn('share_family').execute();
  await db.schema.alterTable('images').dropColumn('image_kind').execute();
}
