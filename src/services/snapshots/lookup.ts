import type { SnapshotRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';

/**
 * The caller's snapshot, or InvalidSnapshotId.NotFound. Its region comes from the ID; `region`, when
 * given, must match (RunInstances takes snapshots of its own region only).
 */
export async function requireOwnSnapshot(services: Services, snapshotId: string, accountId: string, region?: string): Promise<SnapshotRow> {
  const r = services.regions.ofResourceId(snapshotId);
  const row = r && (!region || r.id === region)
    ? await services.db.selectFrom('snapshots').selectAll().where('id', '=', snapshotId).where('region', '=', r.id).where('owner_id', '=', accountId).executeTakeFirst()
    : undefined;
  if (!row) throw apiError('InvalidSnapshotId.NotFound');
  return row;
}

/** SnapshotName: 2–128 characters, starting with a letter, not with `auto` or http(s)://. */
export function checkSnapshotName(name: string): void {
  const ok = name.length >= 2 && name.length <= 128 && /^[A-Za-z\u4e00-\u9fa5][A-Za-z0-9\u4e00-\u9fa5:_.-]*$/.test(name) &&
    !name.toLowerCase().startsWith('auto') && !/^https?:\/\//i.test(name);
  if (!ok) throw apiError('InvalidSnapshotName.Malformed');
}
