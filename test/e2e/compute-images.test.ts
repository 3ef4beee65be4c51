/**
 * Compute with the real image lifecycle, through the official SDK: CreateImage from an instance and from a
 * snapshot, sharing, launching the shared image, then ReInitDisk once the image is unshared or deleted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestServer } from '../support/server.ts';
import { Ecs, sdkError } from '../support/sdk.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { dataConfig, getBytes, launch, pattern, putBytes } from '../api/disks/support.ts';
import { settledImage } from './transfer-support.ts';

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let a: any;
let b: any;

before(async () => {
  ({ server, accounts: { alice, bob }, ecs: { alice: a, bob: b } } = await startServerWith(['alice', 'bob']));
});
after(() => server.stop());

test('an image made from an instance launches with its content; shared, unshared and deleted images and ReInitDisk', async () => {
  const content = pattern(CHUNK_SIZE + 4321, 11);
  const src = await launch(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20 })] });
  await putBytes(dataConfig(server, alice), src.system.diskId, 512, content);
  await putBytes(dataConfig(server, alice), src.data[0].diskId, 0, content.subarray(0, 1000));
  const imageId = (await a.createImage(new Ecs.CreateImageRequest({ regionId: 'cn-hangzhou', instanceId: src.instanceId, imageName: 'from-instance' }))).body.imageId;
  const image = await settledImage(a, imageId);
  assert.equal(image.status, 'Available');
  assert.equal(image.diskDeviceMappings.diskDeviceMapping.length, 2);

  // Writes after the image never reach it.
  await putBytes(dataConfig(server, alice), src.system.diskId, 512, Buffer.alloc(100, 1));

  const mine = await launch(a, { imageId });
  assert.deepEqual(await getBytes(dataConfig(server, alice), mine.system.diskId, 512, content.length), content);
  assert.equal(mine.data.length, 1, 'the image data disk is cloned too');
  assert.deepEqual(await getBytes(dataConfig(server, alice), mine.data[0].diskId, 0, 1000), content.subarray(0, 1000));

  assert.equal((await sdkError(() => launch(b, { imageId }))).code, 'InvalidImageId.NotFound');
  await a.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: 'cn-hangzhou', imageId, addAccount: [bob.accountId] }));
  const theirs = await launch(b, { imageId });
  assert.deepEqual(await getBytes(dataConfig(server, bob), theirs.system.diskId, 512, content.length), content);
  assert.equal((await b.describeImages(new Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou', imageId }))).body.images.image[0].imageOwnerAlias, 'others');

  await b.stopInstance(new Ecs.StopInstanceRequest({ instanceId: theirs.instanceId }));
  await a.stopInstance(new Ecs.StopInstanceRequest({ instanceId: mine.instanceId }));
  await b.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: theirs.system.diskId }));
  await a.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: 'cn-hangzhou', imageId, removeAccount: [bob.accountId] }));
  assert.equal((await sdkError(() => b.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: theirs.system.diskId })))).code, 'SharedImageDeleted');
  assert.equal((await sdkError(() => launch(b, { imageId }))).code, 'InvalidImageId.NotFound', 'no longer launchable once unshared');

  // Deleting an image in use needs Force; afterwards its own disks cannot be re-initialised.
  assert.equal((await sdkError(() => a.deleteImage(new Ecs.DeleteImageRequest({ regionId: 'cn-hangzhou', imageId })))).code, 'ImageUsingByInstance');
  await a.deleteImage(new Ecs.DeleteImageRequest({ regionId: 'cn-hangzhou', imageId, force: true }));
  const own = await sdkError(() => a.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: mine.system.diskId })));
  assert.equal(own.code, 'InvalidDiskId.OperationNotSupported');
  assert.equal((await sdkError(() => b.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: theirs.system.diskId })))).code, 'SharedImageDeleted');
  assert.deepEqual(await getBytes(dataConfig(server, bob), theirs.system.diskId, 512, content.length), content, 'disks made from it keep working');
});

test('CreateImage from a snapshot: the snapshot cannot be deleted while the image uses it; ReplaceSystemDisk switches to the image', async () => {
  const src = await launch(a);
  await putBytes(dataConfig(server, alice), src.system.diskId, 0, pattern(4096, 12));
  const snapshotId = (await a.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: src.system.diskId }))).body.snapshotId;
  const imageId = (await a.createImage(new Ecs.CreateImageRequest({ regionId: 'cn-hangzhou', snapshotId, imageName: 'from-snapshot' }))).body.imageId;
  assert.equal((await settledImage(a, imageId)).status, 'Available');
  const snap = (await a.describeSnapshots(new Ecs.DescribeSnapshotsRequest({ regionId: 'cn-hangzhou', snapshotIds: JSON.stringify([snapshotId]) }))).body.snapshots.snapshot[0];
  assert.equal(snap.usage, 'image');
  assert.equal((await sdkError(() => a.deleteSnapshot(new Ecs.DeleteSnapshotRequest({ snapshotId })))).code, 'SnapshotCreatedImage');

  const target = await launch(a);
  await a.stopInstance(new Ecs.StopInstanceRequest({ instanceId: target.instanceId }));
  const diskId = (await a.replaceSystemDisk(new Ecs.ReplaceSystemDiskRequest({ instanceId: target.instanceId, imageId }))).body.diskId;
  assert.deepEqual(await getBytes(dataConfig(server, alice), diskId, 0, 4096), pattern(4096, 12));

  await a.deleteImage(new Ecs.DeleteImageRequest({ regionId: 'cn-hangzhou', imageId, force: true }));
  await a.deleteSnapshot(new Ecs.DeleteSnapshotRequest({ snapshotId }));
  assert.deepEqual(await getBytes(dataConfig(server, alice), diskId, 0, 4096), pattern(4096, 12), 'the disk holds its own reference to the chunks');
});
