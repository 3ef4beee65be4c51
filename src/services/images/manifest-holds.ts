/** Manifest holds taken or dropped inside a caller's transaction (ManifestRepo opens its own transactions). */
import type { Transaction } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { decodeManifestBody, manifestRefs } from '../../blobs/manifests.ts';
import { releaseRefsIn } from '../../blobs/chunk-index.ts';
import { recordSnapshotsGoneIn } from '../billing/lifecycle.ts';

export async function releaseManifestIn(trx: Transaction<Database>, manifestId: string, now: number): Promise<void> {
  const row = await trx.updateTable('manifests').set((eb) => ({ holders: eb('holders', '-', 1) }))
    .where('id', '=', manifestId).where('holders', '>', 0).returning(['holders', 'region', 'virtual_size', 'body']).executeTakeFirst();
  if (!row || row.holders > 0) return;
  await trx.deleteFrom('manifests').where('id', '=', manifestId).execute();
  await releaseRefsIn(trx, row.region, manifestRefs(decodeManifestBody(Number(row.virtual_size), row.body)), now);
}

/** Deletes snapshots that a failed or cancelled job created, dropping their manifest holds. */
export async function dropSnapshotsIn(trx: Transaction<Database>, snapshotIds: string[], now: number): Promise<void> {
  if (snapshotIds.length === 0) return;
  const rows = await trx.selectFrom('snapshots').selectAll().where('id', 'in', snapshotIds).execute();
  await recordSnapshotsGoneIn(trx, rows, now);
  for (const r of rows) {
    await trx.deleteFrom('snapshots').where('id', '=', r.id).execute();
    await releaseManifestIn(trx, r.manifest_id, now);
  }
}
