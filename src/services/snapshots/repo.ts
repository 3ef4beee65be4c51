/** Snapshot rows: frozen manifests with an owner. Shared by CreateSnapshot, CreateImage, ImportImage and CopyImage. */
import type { Kysely } from 'kysely';
import type { Database, SnapshotRow } from '../../store/schema.ts';
import { CHUNK_SIZE, chunkLength, type Manifest } from '../../blobs/types.ts';

/** Distinct bytes `m` stores that `base` (e.g. the disk's source image) does not: what the snapshot costs. */
export function uniqueBytes(m: Manifest, base?: Manifest): number {
  const inBase = new Set<string>();
  for (const e of base?.chunks ?? []) if (e) inBase.add(e.ref);
  const seen = new Set<string>();
  let bytes = 0;
  m.chunks.forEach((e, i) => {
    if (!e || inBase.has(e.ref) || seen.has(e.ref)) return;
    seen.add(e.ref);
    bytes += chunkLength(m.virtualSize, i);
  });
  return bytes;
}

export function gibOf(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / (1024 * 1024 * 1024)));
}

export type NewSnapshot = Pick<SnapshotRow, 'id' | 'region' | 'owner_id' | 'manifest_id'> & Partial<SnapshotRow>;

export async function insertSnapshot(db: Kysely<Database>, s: NewSnapshot, now: number): Promise<SnapshotRow> {
  const row: SnapshotRow = {
    name: '', description: '', source_disk_id: '', source_disk_type: 'system', source_disk_size_gib: 0, source_snapshot_id: '',
    source_region: '', snapshot_type: 'user', status: 'accomplished', progress: 100, unique_bytes: 0, retention_days: 0,
    created_at: now, updated_at: now, ...s,
  };
  await db.insertInto('snapshots').values(row).execute();
  return row;
}

/** `image`, `disk`, `image_disk` or `none`: what the snapshot is used by (blocks deletion when `image`). */
export async function snapshotUsage(db: Kysely<Database>, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>(ids.map((id) => [id, 'none']));
  if (ids.length === 0) return out;
  const [images, disks] = await Promise.all([
    db.selectFrom('image_disks').select('snapshot_id').distinct().where('snapshot_id', 'in', ids).execute(),
    db.selectFrom('disks').select('source_snapshot_id').distinct().where('source_snapshot_id', 'in', ids).execute(),
  ]);
  const byImage = new Set(images.map((r) => r.snapshot_id));
  const byDisk = new Set(disks.map((r) => r.source_snapshot_id));
  for (const id of ids) out.set(id, byImage.has(id) && byDisk.has(id) ? 'image_disk' : byImage.has(id) ? 'image' : byDisk.has(id) ? 'disk' : 'none');
  return out;
}

export const ZERO_MANIFEST = (virtualSize: number): Manifest => ({ virtualSize, chunks: new Array(Math.ceil(virtualSize / CHUNK_SIZE)).fill(null) });
