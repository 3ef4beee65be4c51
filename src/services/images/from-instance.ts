/** CreateImage from an instance: every disk is snapshotted at that moment, then the image is made from the snapshots. */
import type { Services } from '../context.ts';
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import { insertSnapshot, uniqueBytes } from '../snapshots/repo.ts';
import { createImageFromSnapshots, type CreateImageInput } from './create-image.ts';
import { dropSnapshotsIn } from './manifest-holds.ts';
import { checkImageName } from '../../domain/image-rules.ts';
import { assertNameFree } from './modify.ts';
import { assertImageQuota } from './create.ts';

export async function createImageFromInstance(services: Services, input: Omit<CreateImageInput, 'disks' | 'source'>, instanceId: string): Promise<{ imageId: string }> {
  const { db } = services;
  const region = services.regions.require(input.region);
  const instance = await db.selectFrom('instances').selectAll().where('id', '=', instanceId).where('region', '=', region.id)
    .where('owner_id', '=', input.owner).executeTakeFirst();
  if (!instance) throw apiError('InvalidInstanceId.NotFound');
  if (instance.status !== 'Running' && instance.status !== 'Stopped') throw apiError('IncorrectInstanceStatus');
  const disks = await db.selectFrom('disks').selectAll().where('instance_id', '=', instance.id).execute();
  disks.sort((a, b) => (a.type === b.type ? a.device.localeCompare(b.device) : a.type === 'system' ? -1 : 1));
  if (disks[0]?.type !== 'system') throw apiError('OperationDenied', 'The instance has no system disk.');
  if (input.name !== undefined) {
    checkImageName(input.name);
    await assertNameFree(db, region.id, input.owner, input.name);
  }
  await assertImageQuota(db, region.id, input.owner, services.limits.imageQuota);
  if (input.dryRun) throw apiError('DryRunOperation');

  const now = services.clock.now();
  const created: string[] = [];
  try {
    for (const disk of disks) {
      if (!(await services.dataPlane.manifests.hold(disk.manifest_id))) throw apiError('InternalError');
      const snapshotId = newResourceId('snapshot', region.infix);
      const stored = await services.dataPlane.manifests.load(disk.manifest_id);
      const base = disk.source_image_id ? await sourceManifest(services, region.id, disk.source_image_id) : undefined;
      await insertSnapshot(db, {
        id: snapshotId, region: region.id, owner_id: input.owner, manifest_id: disk.manifest_id,
        name: `image-snapshot-${snapshotId.slice(2)}`, description: `Created for image from instance ${instance.id}`,
        source_disk_id: disk.id, source_disk_type: disk.type, source_disk_size_gib: disk.size_gib,
        unique_bytes: stored ? uniqueBytes(stored.manifest, base) : 0,
      }, now);
      created.push(snapshotId);
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

async function sourceManifest(services: Services, region: string, imageId: string) {
  const row = await services.db.selectFrom('image_disks as d').innerJoin('snapshots as s', 's.id', 'd.snapshot_id')
    .select('s.manifest_id').where('d.image_id', '=', imageId).where('d.type', '=', 'system').executeTakeFirst();
  return row ? (await services.dataPlane.manifests.load(row.manifest_id))?.manifest : undefined;
}
