/** Snapshot rows: frozen manifests with an owner. Shared by CreateSnapshot, CreateImage, ImportImage and CopyImage. */
import type { Kysely } from 'kysely';
import type { Database, SnapshotRow } from '../../store/schema.ts';
import type { Manifest } from '../../blobs/types.ts';
import { CHUNK_SIZE, chunkLength } from '../../domain/disk.ts';
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

function* denseEntries(m: Manifest): Generator<[number, string]> {
  for (let i = 0; i < m.chunks.length; i++) {
    const e = m.chunks[i];
    if (e) yield [i, e.ref];
  }
}

/** Distinct bytes `m` stores that `base` (e.g. the disk's source image) does not: what the snapshot costs. */
export function uniqueBytes(m: Manifest, base?: Manifest): number {
  return distinctBytesBeyond(m.virtualSize, denseEntries(m), base ? [...denseEntries(base)].map(([, ref]) => ref) : []);
}

/**
 * The stored chunks of a committed manifest, read from its sparse body (see encodeManifestBody in
 * src/blobs/manifests.ts) without materialising its null entries: the cost follows the chunks it
 * stores, not the disk's size. Undefined when the manifest is gone.
 */
async function storedEntries(db: Kysely<Database>, manifestId: string): Promise<{ virtualSize: number; entries: [number, string][] } | undefined> {
  const row = await db.selectFrom('manifests').select(['virtual_size', 'body']).where('id', '=', manifestId).executeTakeFirst();
  if (!row) return undefined;
  const rows = JSON.parse(row.body) as [number, string, string][];
  return { virtualSize: Number(row.virtual_size), entries: rows.map(([i, ref]) => [i, ref]) };
}

/** uniqueBytes for committed manifests, by ID; undefined when `manifestId` is gone. */
export async function storedUniqueBytes(services: Pick<Services, 'db'>, manifestId: string, baseManifestId?: string): Promise<number | undefined> {
  const { db } = services;
  const m = await storedEntries(db, manifestId);
  if (!m) return undefined;
  const base = baseManifestId ? await storedEntries(db, baseManifestId) : undefined;
  return distinctBytesBeyond(m.virtualSize, m.entries, (base?.entries ?? []).map(([, ref]) => ref));
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

export const ZERO_MANIFEST = (virtualSize: number): Manifest => ({ virtualSize, chunks: new Array(Math.ceil(virtualSize / CHUNK_SIZE)).fill(null) });
