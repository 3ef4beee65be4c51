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
import { cooperative } from '../../domain/cooperate.ts';

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
  return (await prepareManifests(services, region, [{ sourceManifestId, bytes }]))[0];
}

/**
 * The manifests of many new disks (a launch of Amount instances × disks). Empty disks get sparse all-zero
 * manifests, committed in batches; disks of their source's size share it; larger ones get a grown copy.
 * Hands the event loop back between steps, so a large launch never holds it for long. On failure, what
 * was committed is released again.
 */
export async function prepareManifests(services: Services, region: string, wants: readonly { sourceManifestId: string; bytes: number }[]): Promise<PreparedManifest[]> {
  const repo = services.dataPlane.manifests;
  const pause = cooperative();
  const out: PreparedManifest[] = new Array(wants.length);
  const sizes = new Map<string, number>();
  try {
    for (const id of new Set(wants.map((w) => w.sourceManifestId).filter(Boolean))) {
      const row = await services.db.selectFrom('manifests').select('virtual_size').where('id', '=', id).executeTakeFirst();
      if (!row) throw apiError('InvalidSnapshotId.NotFound');
      sizes.set(id, Number(row.virtual_size));
    }
    const empty: number[] = [];
    for (let k = 0; k < wants.length; k++) {
      const { sourceManifestId: id, bytes } = wants[k];
      if (!id) {
        empty.push(k);
        continue;
      }
      const size = sizes.get(id)!;
      if (size > bytes) throw apiError('InvalidDataDiskSize.ValueNotSupported');
      if (size === bytes) {
        out[k] = { id, fresh: false };
        continue;
      }
      const source = await repo.load(id);
      if (!source) throw apiError('InvalidSnapshotId.NotFound');
      out[k] = { id: await repo.commit(region, await grown(services, region, source.manifest, bytes)), fresh: true };
      await pause();
    }
    for (let i = 0; i < empty.length; i += ZERO_BATCH) {
      const part = empty.slice(i, i + ZERO_BATCH);
      const ids = await repo.commitMany(region, part.map((k) => zeroManifest(wants[k].bytes)));
      part.forEach((k, j) => (out[k] = { id: ids[j], fresh: true }));
      await pause();
    }
  } catch (e) {
    await releaseFresh(services, out.filter(Boolean));
    throw e;
  }
  return out;
}

/** Empty-disk manifests committed per transaction (small enough that one batch stays well under the loop's 50 ms). */
const ZERO_BATCH = 25;

/** Inside the transaction that creates the disk rows: hold the manifests that were not committed for them. */
export async function holdPreparedIn(trx: Transaction<Database>, prepared: PreparedManifest[]): Promise<void> {
  const repo = new ManifestRepo(trx);
  const counts = new Map<string, number>();
  for (const p of prepared) if (!p.fresh) counts.set(p.id, (counts.get(p.id) ?? 0) + 1);
  for (const [id, n] of counts) {
    // A source released since it was looked up (its snapshot was deleted) cannot be cloned any more.
    if (!(await repo.hold(id, n))) throw apiError('InvalidSnapshotId.NotFound');
  }
}

/** Undo for manifests committed for disks whose rows were never written. */
export async function releaseFresh(services: Services, prepared: PreparedManifest[]): Promise<void> {
  const pause = cooperative();
  for (const p of prepared) {
    if (!p.fresh) continue;
    await services.dataPlane.manifests.release(p.id);
    await pause();
  }
}
