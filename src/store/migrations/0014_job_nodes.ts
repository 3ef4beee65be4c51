import type { Kysely } from 'kysely';

/**
 * Jobs whose input is a file on one node (issue 14): Glance's `PUT /file` spool and `PUT /stage` keep the bytes in
 * the receiving node's data directory, so only that node can run the job that ingests them.
 * - `jobs.node`: the node that must claim the job; '' = any node.
 * - `glance_images.stage_node`: the node holding the staged bytes, so a glance-direct import queued through
 *   another node is pinned to it (Glance's `os_glance_stage_host`).
 * - `job_nodes`: each node's heartbeat, a lease like a job's. A job pinned to a node whose lease ran out is failed
 *   by the other nodes instead of waiting for it forever.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('node', 'varchar(64)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('glance_images').addColumn('stage_node', 'varchar(64)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.createTable('job_nodes')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('alive_until', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_nodes').execute();
  await db.schema.alterTable('glance_images').dropColumn('stage_node').execute();
  await db.schema.alterTable('jobs').dropColumn('node').execute();
}
