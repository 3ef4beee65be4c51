/** CreateImage from an instance: every disk is snapshotted at that moment, then the image is made from the snapshots. */
import type { Services } from '../context.ts';
import { apiError } from '../../domain/errors.ts';
import { snapshotDisk } from '../snapshots/create.ts';
import { createImageFromSnapshots, type CreateImageInput } from './create-image.ts';
import { dropSnapshotsIn } from './manifest-holds.ts';
import { checkImageName } from '../../domain/image-rules.ts';
import { assertNameFree } from './modify.ts';
import { assertImageQuota } from './rows.ts';

/** Every disk of the instance (Alibaba's CreateImage, a full-ECS image), or only its system disk (`systemDiskOnly`, IMS's system disk image). */
export async function createImageFromInstance(services: Services, input: Omit<CreateImageInput, 'disks' | 'source'>, instanceId: string, opts: { systemDiskOnly?: boolean } = {}): Promise<{ imageId: string }> {
  const { db } = services;
  const region = services.regions.require(input.region);
  const instance = await db.selectFrom('instances').selectAll().where('id', '=', instanceId).where('region', '=', region.id)
    .where('owner_id', '=', input.owner).executeTakeFirst();
  if (!instance) throw apiError('InvalidInstanceId.NotFound');
  if (instance.status !== 'Running' && instance.status !== 'Stopped') throw apiError('IncorrectInstanceStatus');
  const disks = await db.selectFrom('disks').selectAll().where('instance_id', '=', instance.id).execute();
  disks.sort((a, b) => (a.type === b.type ? a.device.localeCompare(b.device) : a.type === 'system' ? -1 : 1));
  if (disks[0]?.type !== 'system') throw apiError('OperationDenied', 'The instance has no system disk.');
  if (opts.systemDiskOnly) disks.splice(1);
  if (input.name !== undefined) {
    checkImageName(input.name);
    await assertNameFree(services, region.id, input.owner, input.name);
  }
  await assertImageQuota(services, region.id, input.owner, services.limits.imageQuota);
  if (input.dryRun) throw apiError('DryRunOperation');

  const created: string[] = [];
  try {
    for (const disk of disks) {
      created.push(await snapshotDisk(services, disk, { description: `Created for image from instance ${instance.id}` }));
    }
    return await createImageFromSnapshots(services, {
      ...input,
      platform: input.platform,
      disks: disks.map((d, i) => ({ snapshotId: created[i], device: d.device, diskType: d.type, sizeGib: d.size_gib })),
      source: { kind: 'instance', id: instance.id },
    });
  } catch (e) {
    await db.transaction().execute((trx) => dropSnapshotsIn(trx, created, services.clock.now()));
    throw e;
  }
}
