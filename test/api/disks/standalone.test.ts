/**
 * CreateDisk (empty, from a snapshot, from a data disk image through ImageId), AttachDisk, DetachDisk and
 * DeleteDisk through the official Alibaba SDK: the bytes of each source, the rule table for ImageId, the
 * states each action needs, and the manifest holds balanced once the disks are gone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestWorld } from '../../support/server.ts';
import { Ecs, popClient, sdkError } from '../../support/sdk.ts';
import { dataConfig, getBytes, imageFromSnapshot, launch, manifestHoldsBalance, pattern, putBytes } from './support.ts';

type Any = any;

describe('CreateDisk, AttachDisk, DetachDisk, DeleteDisk', () => {
  let world: TestWorld<'alice' | 'bob'>;
  let ecs: Any;
  let cfg: ReturnType<typeof dataConfig>;
  const bytes = pattern(6000, 41);
  let snapshotId: string;

  const createDisk = (fields: Record<string, unknown>) => ecs.createDisk(new Ecs.CreateDiskRequest({ regionId: 'cn-hangzhou', ...fields }));
  /** ImageId is our extension, so it is not in the typed SDK: pop-core sends any parameter. */
  const createDiskFromImage = (imageId: string, extra: Record<string, string> = {}, account = world.accounts.alice) =>
    popClient(world.server.endpoint, account).request('CreateDisk', { RegionId: 'cn-hangzhou', ImageId: imageId, ...extra }, { method: 'POST' }) as Promise<Any>;
  const diskOf = async (diskId: string) => (await ecs.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', diskIds: JSON.stringify([diskId]) }))).body.disks.disk[0];

  before(async () => {
    world = await startServerWith(['alice', 'bob'], { postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    ecs = world.ecs.alice;
    cfg = dataConfig(world.server, world.accounts.alice);
    const src = await launch(ecs, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20 })] });
    await putBytes(cfg, src.data[0].diskId, 4096, bytes);
    snapshotId = (await ecs.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: src.data[0].diskId }))).body.snapshotId;
  });
  after(() => world.server.stop());

  it('makes empty disks, disks from a snapshot and disks from a data disk image, each Available with its bytes', async () => {
    const empty = (await createDisk({ size: 30, diskCategory: 'cloud_essd', diskName: 'empty-disk', description: 'scratch space' })).body.diskId;
    const e = await diskOf(empty);
    assert.deepEqual([e.status, e.type, e.size, e.category, e.diskName, e.description, e.instanceId, e.zoneId], ['Available', 'data', 30, 'cloud_essd', 'empty-disk', 'scratch space', '', 'cn-hangzhou-h']);
    assert.deepEqual(await getBytes(cfg, empty, 4096, 16), Buffer.alloc(16));

    const fromSnap = (await createDisk({ snapshotId, size: 5 })).body.diskId;
    const s = await diskOf(fromSnap);
    assert.deepEqual([s.size, s.category, s.sourceSnapshotId], [20, 'cloud', snapshotId], 'never smaller than the snapshot; Alibaba\'s default category');
    assert.deepEqual(await getBytes(cfg, fromSnap, 4096, bytes.length), bytes);

    const dataImage = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId, { image_kind: 'data', share_family: 'ims' });
    const fromImage = (await createDiskFromImage(dataImage, { Size: '40', DiskCategory: 'cloud_efficiency' })).DiskId;
    const i = await diskOf(fromImage);
    assert.deepEqual([i.size, i.imageId, i.status], [40, dataImage, 'Available']);
    assert.deepEqual(await getBytes(cfg, fromImage, 4096, bytes.length), bytes);
  });

  it('refuses system and full-ECS images, others\' private images, both sources at once, and sizes out of range', async () => {
    const systemImage = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId);
    const refused = await sdkError(() => createDiskFromImage(systemImage));
    assert.equal(refused.code, 'InvalidImage.NotDataDiskImage');
    assert.match(refused.message, /only data disk images create disks/);
    const whole = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId, { image_kind: 'whole' });
    assert.equal((await sdkError(() => createDiskFromImage(whole))).code, 'InvalidImage.WholeImage');
    const bobsData = await imageFromSnapshot(world.server, world.accounts.bob.accountId, snapshotId, { image_kind: 'data' });
    assert.equal((await sdkError(() => createDiskFromImage(bobsData))).code, 'InvalidImageId.NotFound');
    const dataImage = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId, { image_kind: 'data' });
    assert.equal((await sdkError(() => createDiskFromImage(dataImage, { SnapshotId: snapshotId }))).code, 'InvalidParameter');
    assert.equal((await sdkError(() => createDisk({}))).code, 'MissingParameter');
    assert.equal((await sdkError(() => createDisk({ size: 20, description: 'http://example.com' }))).code, 'InvalidDescription.Malformed');
    assert.equal((await sdkError(() => createDisk({ size: 3, diskCategory: 'cloud_ssd' }))).code, 'InvalidDiskSize.ValueNotSupported');
    assert.equal((await sdkError(() => createDisk({ size: 20, zoneId: 'cn-hangzhou-zz' }))).code, 'InvalidZoneId.NotFound');
  });

  it('attaches to the next free device, detaches back to Available, deletes only detached disks, holds balanced', async () => {
    const target = await launch(ecs, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20 })] });
    const disk = (await createDisk({ snapshotId })).body.diskId;
    await ecs.attachDisk(new Ecs.AttachDiskRequest({ instanceId: target.instanceId, diskId: disk, deleteWithInstance: true }));
    const attached = await diskOf(disk);
    assert.deepEqual([attached.status, attached.instanceId, attached.device, attached.deleteWithInstance], ['In_use', target.instanceId, '/dev/xvdc', true]);
    assert.equal((await sdkError(() => ecs.attachDisk(new Ecs.AttachDiskRequest({ instanceId: target.instanceId, diskId: disk })))).code, 'IncorrectDiskStatus');
    assert.equal((await sdkError(() => ecs.deleteDisk(new Ecs.DeleteDiskRequest({ diskId: disk })))).code, 'IncorrectDiskStatus');
    assert.equal((await sdkError(() => ecs.detachDisk(new Ecs.DetachDiskRequest({ instanceId: target.instanceId, diskId: target.system.diskId })))).code, 'DiskTypeViolation');
    const other = await launch(ecs);
    assert.equal((await sdkError(() => ecs.detachDisk(new Ecs.DetachDiskRequest({ instanceId: other.instanceId, diskId: disk })))).code, 'DependencyViolation');

    await ecs.detachDisk(new Ecs.DetachDiskRequest({ instanceId: target.instanceId, diskId: disk }));
    const detached = await diskOf(disk);
    assert.deepEqual([detached.status, detached.instanceId, detached.device, detached.deleteWithInstance], ['Available', '', '', false]);
    assert.deepEqual(await getBytes(cfg, disk, 4096, bytes.length), bytes, 'the content stays with the disk');

    // Attached elsewhere, its instance released: DeleteWithInstance decides whether it goes too.
    await ecs.attachDisk(new Ecs.AttachDiskRequest({ instanceId: other.instanceId, diskId: disk }));
    await ecs.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId: other.instanceId, force: true }));
    assert.equal((await diskOf(disk)).status, 'Available', 'attached without DeleteWithInstance, it outlives the instance');
    await ecs.deleteDisk(new Ecs.DeleteDiskRequest({ diskId: disk }));
    assert.equal(await diskOf(disk), undefined);
    assert.equal((await sdkError(() => ecs.deleteDisk(new Ecs.DeleteDiskRequest({ diskId: disk })))).code, 'InvalidDiskId.NotFound');
    assert.deepEqual(await manifestHoldsBalance(world.server), []);
  });

  it('another account\'s disk or instance is not found', async () => {
    const bobs = (await world.ecs.bob.createDisk(new Ecs.CreateDiskRequest({ regionId: 'cn-hangzhou', size: 20 }))).body.diskId;
    const mine = await launch(ecs);
    assert.equal((await sdkError(() => ecs.attachDisk(new Ecs.AttachDiskRequest({ instanceId: mine.instanceId, diskId: bobs })))).code, 'InvalidDiskId.NotFound');
    assert.equal((await sdkError(() => ecs.deleteDisk(new Ecs.DeleteDiskRequest({ diskId: bobs })))).code, 'InvalidDiskId.NotFound');
    const own = (await createDisk({ size: 20 })).body.diskId;
    const bobsInstance = await launch(world.ecs.bob);
    assert.equal((await sdkError(() => ecs.attachDisk(new Ecs.AttachDiskRequest({ instanceId: bobsInstance.instanceId, diskId: own })))).code, 'InvalidInstanceId.NotFound');
  });
});
