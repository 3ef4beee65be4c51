/**
 * Operations that rewrite a disk from a source, all on Stopped instances: ReplaceSystemDisk (a new system
 * disk from another image), ResetDisk (back to one of the disk's own snapshots) and ReInitDisk (back to the
 * image or snapshot the disk was made from). Each is a copy-on-write clone swapped in optimistically.
 */
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import type { Services } from '../context.ts';
import { findVisibleImage } from '../images/describe.ts';
import { assertLaunchable, assertTypeRunsImage, requireInstanceType, resolveLaunchImage } from './launch-rules.ts';
import { holdPreparedIn, imageDiskSources, prepareManifest, releaseFresh } from './clone.ts';
import { GIB, systemDiskSize } from './disk-rules.ts';
import { deleteDisksIn, requireOwnDisk, swapDiskContent } from './disks.ts';
import { assertStopped, requireOwnInstance } from './instances.ts';
import { requireOwnSnapshot } from '../snapshots/lookup.ts';
import { closeSeatsIn, openSeatsIn } from '../billing/lifecycle.ts';

export async function replaceSystemDisk(
  services: Services,
  input: { accountId: string; instanceId: string; imageId: string; size?: number; dryRun?: boolean },
): Promise<string> {
  const instance = await requireOwnInstance(services, input.instanceId, input.accountId);
  assertStopped(instance);
  const image = await resolveLaunchImage(services, instance.region, input.accountId, { imageId: input.imageId });
  await assertLaunchable(services, image, input.accountId, 'replaceSystemDisk');
  const type = requireInstanceType(services, instance.region, instance.instance_type);
  assertTypeRunsImage(type, image);
  if (image.disks.some((d) => d.type === 'data' && d.snapshot_id)) {
    throw apiError('OperationDenied', 'The specified image contains the snapshot of the data disk,does not support this operation.');
  }
  const old = await services.db.selectFrom('disks').selectAll().where('instance_id', '=', instance.id).where('type', '=', 'system').executeTakeFirst();
  if (!old) throw apiError('IncorrectInstanceStatus');
  const sizeGib = systemDiskSize({ category: old.category, size: input.size, imageGib: image.row.size_gib, osType: image.row.os_type, currentGib: old.size_gib });
  if (input.dryRun) throw apiError('DryRunOperation');

  const source = (await imageDiskSources(services, image)).find((s) => s.type === 'system');
  const prepared = await prepareManifest(services, instance.region, source?.snapshot?.manifest_id ?? '', sizeGib * GIB);
  const region = services.regions.require(instance.region);
  const diskId = newResourceId('disk', region.infix);
  const now = services.clock.now();
  try {
    await services.db.transaction().execute(async (trx) => {
      const moved = await trx.updateTable('instances')
        .set({ image_id: image.row.id, os_name: image.row.os_name, os_name_en: image.row.os_name_en, os_type: image.row.os_type, updated_at: now })
        .where('id', '=', instance.id).where('status', '=', 'Stopped').executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) throw apiError('IncorrectInstanceStatus');
      await holdPreparedIn(trx, [prepared]);
      await deleteDisksIn(trx, [old], now);
      await closeSeatsIn(trx, { diskId: old.id }, now);
      await openSeatsIn(trx, [{ diskId, instanceId: instance.id, accountId: input.accountId, region: region.id, image: image.row, vcpu: type.CpuCoreCount, at: now }]);
      await trx.insertInto('disks').values({
        ...old, id: diskId, size_gib: sizeGib, status: 'In_use', source_image_id: image.row.id, source_image_owner_id: image.row.owner_id,
        source_snapshot_id: '', manifest_id: prepared.id, version: 0, created_at: now, updated_at: now,
      }).execute();
    });
  } catch (e) {
    await releaseFresh(services, [prepared]);
    throw e;
  }
  return diskId;
}

/** A disk that belongs to an instance may be rewritten only while that instance is Stopped. */
async function assertInstanceStopped(services: Services, instanceId: string): Promise<void> {
  if (!instanceId) return;
  const instance = await services.db.selectFrom('instances').select('status').where('id', '=', instanceId).executeTakeFirst();
  if (instance) assertStopped(instance);
}

export async function resetDisk(services: Services, input: { accountId: string; diskId: string; snapshotId: string; dryRun?: boolean }): Promise<void> {
  const disk = await requireOwnDisk(services, input.diskId, input.accountId);
  const snap = await requireOwnSnapshot(services, input.snapshotId, input.accountId);
  if (snap.source_disk_id !== disk.id) throw apiError('InvalidParameter.Mismatch');
  if (snap.status !== 'accomplished') throw apiError('InvalidSnapshotId.NotReady');
  await assertInstanceStopped(services, disk.instance_id);
  if (input.dryRun) throw apiError('DryRunOperation');
  await swapDiskContent(services, disk.id, (d) => prepareManifest(services, d.region, snap.manifest_id, d.size_gib * GIB));
}

/** The manifest a system disk re-initialises from, or the errors for an image that is gone or no longer shared. */
async function imageSourceManifest(services: Services, disk: { region: string; source_image_id: string; source_image_owner_id?: string }, accountId: string): Promise<string> {
  const image = await findVisibleImage(services, disk.region, disk.source_image_id, accountId);
  if (!image) {
    const exists = await services.db.selectFrom('images').select('id').where('region', '=', disk.region).where('id', '=', disk.source_image_id).executeTakeFirst();
    const owner = disk.source_image_owner_id ?? '';
    const ownerKind = owner ? (await services.db.selectFrom('accounts').select('kind').where('id', '=', owner).executeTakeFirst())?.kind : undefined;
    if (!exists && (owner === accountId || ownerKind === 'system' || !owner)) throw apiError('InvalidDiskId.OperationNotSupported');
    throw apiError('SharedImageDeleted');
  }
  const source = (await imageDiskSources(services, image)).find((s) => s.type === 'system');
  return source?.snapshot?.manifest_id ?? '';
}

export async function reInitDisk(services: Services, input: { accountId: string; diskId: string; autoStart?: boolean }): Promise<void> {
  const disk = await requireOwnDisk(services, input.diskId, input.accountId);
  if (disk.status !== 'In_use' || !disk.instance_id) throw apiError('IncorrectDiskStatus');
  const instance = await requireOwnInstance(services, disk.instance_id, input.accountId);
  assertStopped(instance);
  let sourceManifestId = '';
  if (disk.type === 'system') {
    sourceManifestId = await imageSourceManifest(services, disk, input.accountId);
  } else if (disk.source_snapshot_id) {
    const snap = await services.db.selectFrom('snapshots').select('manifest_id').where('id', '=', disk.source_snapshot_id).executeTakeFirst();
    if (!snap) throw apiError('InvalidSourceSnapshot');
    sourceManifestId = snap.manifest_id;
  }
  await swapDiskContent(services, disk.id, (d) => prepareManifest(services, d.region, sourceManifestId, d.size_gib * GIB));
  if (input.autoStart) {
    await services.db.updateTable('instances').set({ status: 'Running', updated_at: services.clock.now() })
      .where('id', '=', instance.id).where('status', '=', 'Stopped').execute();
  }
}
