/**
 * Row locks for check-then-write limits (quotas, share caps). A transaction that checks a limit first takes the
 * lock of the row the limit belongs to, so two nodes checking at once run one after the other and the second
 * sees the first's rows. The lock is a no-op update: portable, and on PostgreSQL it holds the row until commit
 * (SQLite runs one write transaction at a time anyway).
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export async function lockAccountIn(trx: Kysely<Database>, accountId: string): Promise<void> {
  await trx.updateTable('accounts').set((eb) => ({ name: eb.ref('name') })).where('id', '=', accountId).execute();
}

export async function lockImageIn(trx: Kysely<Database>, imageId: string): Promise<void> {
  await trx.updateTable('images').set((eb) => ({ updated_at: eb.ref('updated_at') })).where('id', '=', imageId).execute();
}

export async function lockInstanceIn(trx: Kysely<Database>, instanceId: string): Promise<void> {
  await trx.updateTable('instances').set((eb) => ({ updated_at: eb.ref('updated_at') })).where('id', '=', instanceId).execute();
}
