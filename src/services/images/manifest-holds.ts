/** Manifest holds taken or dropped inside a caller's transaction (ManifestRepo opens its own transactions). */
import type { Transaction } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { releaseManifestIn } from '../../blobs/manifests.ts';
import { recordSnapshotsGoneIn } from '../billing/lifecycle.ts';

export { lockManifestIn, releaseManifestIn } from '../../blobs/manifests.ts';

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
