/**
 * Data disks on their own: CreateDisk (empty, from a snapshot, or from a data disk image: the rule table
 * lets only those create disks), AttachDisk, DetachDisk and DeleteDisk. A new disk is a copy-on-write clone
 * like the disks RunInstances makes (clone.ts); deleting one drops its manifest hold.
 */
import type { DiskRow, InstanceRow } from '../../store/schema.ts';
import { lockInstanceIn } from '../../store/locks.ts';
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import { isResourceName } from '../../domain/text.ts';
import { checkDescription, type Tag } from '../../domain/image-rules.ts';
import type { Services } from '../context.ts';
import { requireOwnSnapshot } from '../snapshots/lookup.ts';
import { assertDiskSourceImage } from './launch-rules.ts';
import { holdPreparedIn, imageDiskSources, prepareManifest, releaseFresh } from './clone.ts';
import { GIB, standaloneDiskSize } from './disk-rules.ts';
import { deleteDisksIn, requireOwnDisk } from './disks.ts';
import { DATA_DEVICES, MAX_DISKS_PER_INSTANCE, requireOwnInstance, zoneOf } from './instances.ts';

/** CreateDisk's default category, as on Alibaba. */
export const CREATE_DISK_DEFAULT_CATEGORY = 'cloud';

export interface CreateDiskInput {
  region: string;
  accountId: string;
  zoneId?: string;
  size?: number;
  snapshotId?: string;
  /** A data disk image (our extension of CreateDisk; Huawei's "create disks from a data disk image"). */
  imageId?: string;
  category?: string;
  performanceLevel?: string;
  name?: string;
  description?: string;
  tags: Tag[];
  dryRun?: boolean;
}

/** Where the new disk's bytes come from: nothing, a snapshot of the caller's, or a data disk image's one disk. */
async function diskSource(services: Services, input: CreateDiskInput, region: string) {
  if (input.snapshotId && input.imageId) throw apiError('InvalidParameter', 'ImageId');
  if (input.snapshotId) return { snapshot: await requireOwnSnapshot(services, input.snapshotId, input.accountId, region) };
  if (!input.imageId) return {};
  const image = await assertDiskSourceImage(services, region, input.accountId, input.imageId);
  return { image: image.row, snapshot: (await imageDiskSources(services, image))[0]?.snapshot };
}

export async function createDisk(services: Services, input: CreateDiskInput): Promise<string> {
  const region = services.regions.require(input.region);
  const zone = zoneOf(region, input.zoneId);
  if (input.name !== undefined && input.name !== '' && !isResourceName(input.name)) throw apiError('InvalidDiskName.Malformed');
  if (input.description !== undefined && input.description !== '') checkDescription(input.description);
  const { image, snapshot } = await diskSource(services, input, region.id);
  if (snapshot && snapshot.status !== 'accomplished') throw apiError('InvalidSnapshotId.NotReady');
  const category = input.category ?? CREATE_DISK_DEFAULT_CATEGORY;
  const sizeGib = standaloneDiskSize(category, input.performanceLevel, input.size, snapshot?.source_disk_size_gib);
  if (input.dryRun) throw apiError('DryRunOperation');

  const prepared = await prepareManifest(services, region.id, snapshot?.manifest_id ?? '', sizeGib * GIB);
  const id = newResourceId('disk', region.infix);
  const now = services.clock.now();
  try {
    await services.db.transaction().execute(async (trx) => {
      await holdPreparedIn(trx, [prepared]);
      await trx.insertInto('disks').values({
        id, region: region.id, zone, owner_id: input.accountId, instance_id: '', name: input.name ?? '', description: input.description ?? '', type: 'data', category, size_gib: sizeGib,
        device: '', status: 'Available', source_image_id: image?.id ?? '', source_image_owner_id: image?.owner_id ?? '', source_snapshot_id: snapshot?.id ?? '',
        manifest_id: prepared.id, version: 0, delete_with_instance: 0, created_at: now, updated_at: now,
      }).execute();
      if (input.tags.length) {
        await trx.insertInto('tags').values(input.tags.map((t) => ({ resource_id: id, resource_type: 'disk', tag_key: t.key, tag_value: t.value }))).execute();
      }
    });
  } catch (e) {
    await releaseFresh(services, [prepared]);
    throw e;
  }
  return id;
}

/** The instance and the data disk an attach or detach is about, with the checks both share. */
async function attachment(services: Services, input: { accountId: string; instanceId: string; diskId: string }): Promise<{ instance: InstanceRow; disk: DiskRow }> {
  const instance = await requireOwnInstance(services, input.instanceId, input.accountId);
  const disk = await requireOwnDisk(services, input.diskId, input.accountId);
  if (disk.region !== instance.region) throw apiError('InvalidDiskId.NotFound');
  if (disk.type !== 'data') throw apiError('DiskTypeViolation');
  if (instance.status !== 'Running' && instance.status !== 'Stopped') throw apiError('IncorrectInstanceStatus');
  // A running VM holds its disks' exports from its start: it sees a change of its disks at its next start only.
  if (instance.status === 'Running' && services.hypervisor) throw apiError('IncorrectInstanceStatus.VmRunning');
  return { instance, disk };
}

/** AttachDisk: an Available data disk onto the next free device of an instance in its zone. */
export async function attachDisk(services: Services, input: { accountId: string; instanceId: string; diskId: string; deleteWithInstance?: boolean }): Promise<void> {
  const { instance, disk } = await attachment(services, input);
  if (disk.status !== 'Available' || disk.instance_id) throw apiError('IncorrectDiskStatus');
  if (disk.zone !== instance.zone) throw apiError('InvalidDiskId.ZoneMismatch');
  await services.db.transaction().execute(async (trx) => {
    // Two attaches to one instance on several nodes take turns, so they never pick the same device.
    await lockInstanceIn(trx, instance.id);
    const used = await trx.selectFrom('disks').select('device').where('instance_id', '=', instance.id).execute();
    if (used.length >= MAX_DISKS_PER_INSTANCE) throw apiError('InstanceDiskNumber.LimitExceed');
    const device = DATA_DEVICES.find((d) => !used.some((u) => u.device === d));
    if (!device) throw apiError('InstanceDiskNumber.LimitExceed');
    const res = await trx.updateTable('disks')
      .set({ instance_id: instance.id, device, status: 'In_use', delete_with_instance: input.deleteWithInstance ? 1 : 0, updated_at: services.clock.now() })
      .where('id', '=', disk.id).where('status', '=', 'Available').where('instance_id', '=', '').executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw apiError('IncorrectDiskStatus');
  });
}

/** DetachDisk: a data disk off its instance; it stays, Available, and is no longer released with the instance. */
export async function detachDisk(services: Services, input: { accountId: string; instanceId: string; diskId: string }): Promise<void> {
  const { instance, disk } = await attachment(services, input);
  if (disk.instance_id !== instance.id) throw apiError('DependencyViolation');
  const res = await services.db.updateTable('disks')
    .set({ instance_id: '', device: '', status: 'Available', delete_with_instance: 0, updated_at: services.clock.now() })
    .where('id', '=', disk.id).where('instance_id', '=', instance.id).executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) throw apiError('DependencyViolation');
}

/** DeleteDisk: an Available disk goes, and with it its hold on its content. */
export async function deleteDisk(services: Services, input: { accountId: string; diskId: string }): Promise<void> {
  const disk = await requireOwnDisk(services, input.diskId, input.accountId);
  if (disk.status !== 'Available' || disk.instance_id) throw apiError('IncorrectDiskStatus');
  await services.db.transaction().execute(async (trx) => {
    // Only while still Available: an attach may have won meanwhile.
    const gone = await trx.deleteFrom('disks').where('id', '=', disk.id).where('status', '=', 'Available').where('instance_id', '=', '').executeTakeFirst();
    if (Number(gone.numDeletedRows) !== 1) throw apiError('IncorrectDiskStatus');
    await deleteDisksIn(trx, [disk], services.clock.now());
  });
}
