/**
 * The history metering needs once rows are gone, written inside the transactions that create and delete
 * the resources: a seat per system disk (what its instance is charged for, kept after the image goes) and
 * the lifetime and final size of each deleted snapshot.
 */
import type { Kysely } from 'kysely';
import type { Database, ImageRow, SnapshotRow } from '../../store/schema.ts';
import { billingDb } from './tables.ts';

export interface NewSeat {
  diskId: string;
  instanceId: string;
  accountId: string;
  region: string;
  image: Pick<ImageRow, 'id' | 'license_class' | 'product_code'>;
  vcpu: number;
  at: number;
}

export async function openSeatsIn(trx: Kysely<Database>, seats: NewSeat[]): Promise<void> {
  if (!seats.length) return;
  await billingDb(trx).insertInto('billing_seats').values(seats.map((s) => ({
    disk_id: s.diskId, instance_id: s.instanceId, account_id: s.accountId, region: s.region, image_id: s.image.id,
    license_class: s.image.license_class || 'none', product_code: s.image.product_code, vcpu: s.vcpu, started_at: s.at, ended_at: null,
  }))).execute();
}

/** Ends the open seat of a system disk (ReplaceSystemDisk) or of every disk of an instance (DeleteInstance). */
export async function closeSeatsIn(trx: Kysely<Database>, by: { diskId: string } | { instanceId: string }, at: number): Promise<void> {
  let q = billingDb(trx).updateTable('billing_seats').set({ ended_at: at }).where('ended_at', 'is', null);
  q = 'diskId' in by ? q.where('disk_id', '=', by.diskId) : q.where('instance_id', '=', by.instanceId);
  await q.execute();
}

export async function recordSnapshotsGoneIn(trx: Kysely<Database>, rows: Pick<SnapshotRow, 'id' | 'owner_id' | 'region' | 'unique_bytes' | 'created_at'>[], at: number): Promise<void> {
  if (!rows.length) return;
  await billingDb(trx).insertInto('billing_snapshot_history').values(rows.map((r) => ({
    snapshot_id: r.id, account_id: r.owner_id, region: r.region, unique_bytes: Number(r.unique_bytes), created_at: Number(r.created_at), deleted_at: at,
  }))).onConflict((oc) => oc.column('snapshot_id').doNothing()).execute();
}
