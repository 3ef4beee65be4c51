/**
 * CreateSnapshot: instant. A snapshot holds the manifest the disk points at (manifests are immutable, so
 * it is frozen as it is); later writes to the disk make new chunks and a new manifest. Its size is the
 * bytes of chunks it holds that the disk's origin (its image's or source snapshot's manifest) did not.
 */
import type { DiskRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import { checkDescription, type Tag } from '../../domain/image-rules.ts';
import { ManifestRepo } from '../../blobs/manifests.ts';
import type { Services } from '../context.ts';
import { insertSnapshot, storedUniqueBytes } from './repo.ts';
import { checkSnapshotName } from './lookup.ts';
import { requireOwnDisk } from '../compute/disks.ts';

/** Manual snapshots kept per disk (Alibaba's quota). */
export const SNAPSHOTS_PER_DISK = 2000;

/** The manifest the disk was cloned from: its image's disk of the same type, or its source snapshot. */
async function originManifestId(services: Services, disk: DiskRow): Promise<string | undefined> {
  const db = services.db;
  let snapshotId = disk.source_snapshot_id;
  if (!snapshotId && disk.type === 'system' && disk.source_image_id) {
    const mapping = await db.selectFrom('image_disks as d').innerJoin('images as i', 'i.id', 'd.image_id').select('d.snapshot_id')
      .where('i.region', '=', disk.region).where('i.id', '=', disk.source_image_id).where('d.type', '=', 'system').executeTakeFirst();
    snapshotId = mapping?.snapshot_id ?? '';
  }
  if (!snapshotId) return undefined;
  return (await db.selectFrom('snapshots').select('manifest_id').where('id', '=', snapshotId).executeTakeFirst())?.manifest_id;
}

export interface SnapshotOptions {
  name?: string;
  description?: string;
  retentionDays?: number;
  tags?: Tag[];
}

/** Freezes the disk's current content as a new snapshot of its owner; returns the snapshot ID. */
export async function snapshotDisk(services: Services, disk: DiskRow, opts: SnapshotOptions = {}): Promise<string> {
  const region = services.regions.require(disk.region);
  for (let attempt = 0; attempt < 200; attempt++) {
    const current = await services.db.selectFrom('disks').selectAll().where('id', '=', disk.id).executeTakeFirst();
    if (!current) throw apiError('InvalidDiskId.NotFound');
    const bytes = await storedUniqueBytes(services, current.manifest_id, await originManifestId(services, current));
    if (bytes === undefined) continue; // swapped and released since the row was read
    const id = newResourceId('snapshot', region.infix);
    const now = services.clock.now();
    const held = await services.db.transaction().execute(async (trx) => {
      if (!(await new ManifestRepo(trx).hold(current.manifest_id))) return false;
      await insertSnapshot(trx, {
        id, region: region.id, owner_id: current.owner_id, manifest_id: current.manifest_id, name: opts.name ?? '',
        description: opts.description ?? '', source_disk_id: current.id, source_disk_type: current.type,
        source_disk_size_gib: current.size_gib, source_region: region.id, retention_days: opts.retentionDays ?? 0, unique_bytes: bytes,
      }, now);
      const tags = opts.tags ?? [];
      if (tags.length) {
        await trx.insertInto('tags').values(tags.map((t) => ({ resource_id: id, resource_type: 'snapshot', tag_key: t.key, tag_value: t.value }))).execute();
      }
      return true;
    });
    if (held) return id;
  }
  throw apiError('Operation.Conflict');
}

export interface CreateSnapshotInput extends SnapshotOptions {
  accountId: string;
  diskId: string;
  dryRun?: boolean;
}

export async function createSnapshot(services: Services, input: CreateSnapshotInput): Promise<string> {
  const disk = await requireOwnDisk(services, input.diskId, input.accountId);
  if (input.name !== undefined) checkSnapshotName(input.name);
  if (input.description !== undefined) checkDescription(input.description);
  if (input.retentionDays !== undefined && (input.retentionDays < 1 || input.retentionDays > 65536)) throw apiError('InvalidRetentionDays.Malformed');
  const { n } = await services.db.selectFrom('snapshots').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('source_disk_id', '=', disk.id).where('snapshot_type', '=', 'user').executeTakeFirstOrThrow();
  if (Number(n) >= SNAPSHOTS_PER_DISK) throw apiError('QuotaExceed.Snapshot');
  if (input.dryRun) throw apiError('DryRunOperation');
  return snapshotDisk(services, disk, input);
}
