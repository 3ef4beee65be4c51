/** Snapshot rows: frozen manifests with an owner. Shared by CreateSnapshot, CreateImage, ImportImage and CopyImage. */
import type { Kysely } from 'kysely';
import type { Database, SnapshotRow } from '../../store/schema.ts';
import type { Manifest } from '../../blobs/types.ts';
import { chunkLength } from '../../domain/disk.ts';
import { manifestRefs } from '../../blobs/manifests.ts';
import type { Services } from '../context.ts';

/** Distinct bytes of `entries` (chunk index, ref) whose refs are not in `baseRefs`. */
function distinctBytesBeyond(virtualSize: number, entries: Iterable<[number, string]>, baseRefs: Iterable<string>): number {
  const seen = new Set<string>(baseRefs);
  let bytes = 0;
  for (const [i, ref] of entries) {
    if (seen.has(ref)) continue;
    seen.add(ref);
    bytes += chunkLength(virtualSize, i);
  }
  return bytes;
}

function* storedEntries(m: Manifest): Generator<[number, string]> {
  for (const e of m.entries) yield [e.index, e.ref];
}

/** Distinct bytes `m` stores that `base` (e.g. the disk's source image) does not: what the snapshot costs. */
export function uniqueBytes(m: Manifest, base?: Manifest): number {
  return distinctBytesBeyond(m.virtualSize, storedEntries(m), base ? manifestRefs(base) : []);
}

/**
 * uniqueBytes for committed manifests, by ID; undefined when `manifestId` is gone. Manifests are sparse,
 * so the cost follows the chunks they store, not the disk's size.
 */
export async function storedUniqueBytes(services: Pick<Services, 'dataPlane'>, manifestId: string, baseManifestId?: string): Promise<number | undefined> {
  const repo = services.dataPlane.manifests;
  const m = await repo.load(manifestId);
  if (!m) return undefined;
  const base = baseManifestId ? await repo.load(baseManifestId) : undefined;
  return uniqueBytes(m.manifest, base?.manifest);
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
export async function snapshotUsage(services: Pick<Services, 'db'>, ids: string[]): Promise<Map<string, string>> {
  const { db } = services;
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
