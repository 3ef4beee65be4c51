/**
 * Copy-on-write disk clones. A disk made from an image or a snapshot holds the source's manifest when the
 * sizes match (no bytes, no refs, O(1)); a larger disk gets a committed copy of the entries grown with
 * null (zero) entries; a disk from a public image or an empty data disk gets a committed all-zero manifest,
 * which stores no chunk. Either way the cost is metadata only, whatever the disk's size.
 */
import type { Transaction } from 'kysely';
import type { Database, SnapshotRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import type { Manifest } from '../../blobs/types.ts';
import { CHUNK_SIZE, chunkCount } from '../../domain/disk.ts';
import { ManifestRepo, manifestDisk, manifestEntry, patchManifest, zeroManifest } from '../../blobs/manifests.ts';
import { writeRange } from '../../blobs/write-range.ts';
import type { Services } from '../context.ts';
import type { ImageView } from '../images/describe.ts';

/** A manifest ready for a new disk: `fresh` ones were committed for it, the others must be held. */
export interface PreparedManifest {
  id: string;
  fresh: boolean;
}

/** The image's disks: where each one's bytes come from (no snapshot = a public image = zeros). */
export interface ImageDiskSource {
  type: 'system' | 'data';
  device: string;
  sizeGib: number;
  snapshot?: SnapshotRow;
}

export async function imageDiskSources(services: Services, image: ImageView): Promise<ImageDiskSource[]> {
  const ids = image.disks.map((d) => d.snapshot_id).filter(Boolean);
  const snaps = ids.length ? await services.db.selectFrom('snapshots').selectAll().where('id', 'in', ids).execute() : [];
  return image.disks.map((d) => {
    const snapshot = d.snapshot_id ? snaps.find((s) => s.id === d.snapshot_id) : undefined;
    if (d.snapshot_id && !snapshot) throw apiError('OperationDenied.ImageNotValid');
    return { type: d.type, device: d.device, sizeGib: d.size_gib, snapshot };
  });
}

/**
 * `source` grown to `bytes`: the same entries, the new chunks zero (so not listed), and a partial last
 * chunk rewritten as a full, zero-padded one.
 */
async function grown(services: Services, region: string, source: Manifest, bytes: number): Promise<Manifest> {
  const tail = source.virtualSize % CHUNK_SIZE;
  const lastIndex = chunkCount(source.virtualSize) - 1;
  const partial = tail !== 0 && manifestEntry(source, lastIndex) ? await manifestDisk(source, services.dataPlane.store(region)).readChunk(lastIndex) : null;
  const out = patchManifest(source, new Map(tail !== 0 ? [[lastIndex, null]] : []), bytes);
  return partial ? writeRange(out, lastIndex * CHUNK_SIZE, partial, services.dataPlane.importDeps(region)) : out;
}

/** The manifest a new disk of `bytes` starts from, cloned from `sourceManifestId` ('' = all zero). */
export async function prepareManifest(services: Services, region: string, sourceManifestId: string, bytes: number): Promise<PreparedManifest> {
  const repo = services.dataPlane.manifests;
  if (!sourceManifestId) return { id: await repo.commit(region, zeroManifest(bytes)), fresh: true };
  const row = await services.db.selectFrom('manifests').select('virtual_size').where('id', '=', sourceManifestId).executeTakeFirst();
  if (!row) throw apiError('InvalidSnapshotId.NotFound');
  const size = Number(row.virtual_size);
  if (size === bytes) return { id: sourceManifestId, fresh: false };
  if (size > bytes) throw apiError('InvalidDataDiskSize.ValueNotSupported');
  const source = await repo.load(sourceManifestId);
  if (!source) throw apiError('InvalidSnapshotId.NotFound');
  return { id: await repo.commit(region, await grown(services, region, source.manifest, bytes)), fresh: true };
}

/** Inside the transaction that creates the disk rows: hold the manifests that were not committed for them. */
export async function holdPreparedIn(trx: Transaction<Database>, prepared: PreparedManifest[]): Promise<void> {
  const repo = new ManifestRepo(trx);
  for (const p of prepared) {
    // A source released since it was looked up (its snapshot was deleted) cannot be cloned any more.
    if (!p.fresh && !(await repo.hold(p.id))) throw apiError('InvalidSnapshotId.NotFound');
  }
}

/** Undo for manifests committed for disks whose rows were never written. */
export async function releaseFresh(services: Services, prepared: PreparedManifest[]): Promise<void> {
  for (const p of prepared) if (p.fresh) await services.dataPlane.manifests.release(p.id);
}
