import type { Kysely } from 'kysely';

/**
 * Fair job claiming (issue 11): `job_turns` remembers when each account last had a job claimed, so the
 * queue serves accounts round-robin; the index finds an account's running jobs for its running limit.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('job_turns')
    .addColumn('account_id', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('last_claim', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('jobs_account_state').on('jobs').columns(['account_id', 'state']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('jobs_account_state').execute();
  await db.schema.dropTable('job_turns').execute();
}
