/**
 * Disks with real content through the official SDK and the disk content endpoint: copy-on-write writes,
 * instant snapshots, clones from snapshots and custom images, ResetDisk, ReInitDisk, ReplaceSystemDisk,
 * DescribeSnapshots and DeleteSnapshot.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestServer } from '../support/server.ts';
import { Ecs, ecsClient, sdkError } from '../support/sdk.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import type { ClientConfig } from '../../src/cli/api.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { dataConfig, getBytes, imageFromSnapshot, launch, manifestHoldsBalance, pattern, putBytes, share } from '../api/disks/support.ts';

const MiB = 1024 * 1024;
let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let a: any;
let b: any;
let aData: ClientConfig;
let bData: ClientConfig;

before(async () => {
  ({ server, accounts: { alice, bob }, ecs: { alice: a, bob: b } } = await startServerWith(['alice', 'bob']));
  aData = dataConfig(server, alice);
  bData = dataConfig(server, bob);
});
after(() => server.stop());

const snapshot = async (client: any, diskId: string, name?: string) =>
  (await client.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId, snapshotName: name }))).body.snapshotId as string;
const describeSnapshots = async (client: any, fields: Record<string, unknown>) =>
  (await client.describeSnapshots(new Ecs.DescribeSnapshotsRequest({ regionId: 'cn-hangzhou', ...fields }))).body;
const stop = (client: any, instanceId: string) => client.stopInstance(new Ecs.StopInstanceRequest({ instanceId }));
const manifestOf = async (diskId: string) =>
  (await server.app.services.db.selectFrom('disks').select('manifest_id').where('id', '=', diskId).executeTakeFirstOrThrow()).manifest_id;

test('write, snapshot, write more, read both versions, reset from the snapshot', async () => {
  const { instanceId, system } = await launch(a);
  const diskId = system.diskId;
  assert.deepEqual(await getBytes(aData, diskId, 0, 4096), Buffer.alloc(4096), 'a disk from a public image starts all zero');

  const v1 = pattern(6 * MiB, 1); // spans chunks 0, 1 and 2
  assert.equal((await putBytes(aData, diskId, 3 * MiB, v1)).BytesWritten, v1.length);
  assert.deepEqual(await getBytes(aData, diskId, 3 * MiB, v1.length), v1);
  const s1 = await snapshot(a, diskId, 'before-patch');
  const s1Manifest = (await server.app.services.db.selectFrom('snapshots').select('manifest_id').where('id', '=', s1).executeTakeFirstOrThrow()).manifest_id;
  assert.equal(s1Manifest, await manifestOf(diskId), 'a snapshot is the manifest the disk points at, frozen');

  const v2 = pattern(MiB, 2);
  await putBytes(aData, diskId, 4 * MiB, v2);
  assert.notEqual(await manifestOf(diskId), s1Manifest, 'a write swaps in a new manifest');
  const expected2 = Buffer.from(v1);
  v2.copy(expected2, MiB);
  assert.deepEqual(await getBytes(aData, diskId, 3 * MiB, v1.length), expected2);

  // The snapshot's version, read through a data disk cloned from it.
  const clone = await launch(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ snapshotId: s1 })] });
  assert.equal(clone.data[0].sourceSnapshotId, s1);
  assert.equal(clone.data[0].size, 40);
  assert.deepEqual(await getBytes(aData, clone.data[0].diskId, 3 * MiB, v1.length), v1);

  // ResetDisk needs the instance stopped, and a snapshot of this very disk.
  const running = await sdkError(() => a.resetDisk(new Ecs.ResetDiskRequest({ diskId, snapshotId: s1 })));
  assert.equal(running.code, 'IncorrectInstanceStatus');
  assert.equal(running.statusCode, 403);
  await stop(a, instanceId);
  const otherSnap = await snapshot(a, clone.data[0].diskId);
  assert.equal((await sdkError(() => a.resetDisk(new Ecs.ResetDiskRequest({ diskId, snapshotId: otherSnap })))).code, 'InvalidParameter.Mismatch');
  assert.equal((await sdkError(() => b.resetDisk(new Ecs.ResetDiskRequest({ diskId, snapshotId: s1 })))).code, 'InvalidDiskId.NotFound');
  await a.resetDisk(new Ecs.ResetDiskRequest({ diskId, snapshotId: s1 }));
  assert.deepEqual(await getBytes(aData, diskId, 3 * MiB, v1.length), v1);
  assert.equal(await manifestOf(diskId), s1Manifest, 'a reset disk shares the snapshot manifest until its next write');

  // Writing after the reset never reaches the snapshot.
  await putBytes(aData, diskId, 3 * MiB, pattern(4096, 9));
  await a.resetDisk(new Ecs.ResetDiskRequest({ diskId, snapshotId: s1 }));
  assert.deepEqual(await getBytes(aData, diskId, 3 * MiB, v1.length), v1);
});

test('DescribeSnapshots: filters, Usage, unique-bytes size, paging', async () => {
  const c = ecsClient(server.hostPort, await server.account('carol'));
  const { instanceId, system, data } = await launch(c, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20 })] });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await snapshot(c, system.diskId, `sys-${i}`));
  const dataSnap = await snapshot(c, data[0].diskId, 'data-0');

  const byIds = await describeSnapshots(c, { snapshotIds: JSON.stringify([ids[0], dataSnap]) });
  assert.deepEqual(byIds.snapshots.snapshot.map((s: any) => s.snapshotId).sort(), [ids[0], dataSnap].sort());
  const byDisk = await describeSnapshots(c, { diskId: system.diskId });
  assert.equal(byDisk.totalCount, 3);
  const byInstance = await describeSnapshots(c, { instanceId });
  assert.equal(byInstance.totalCount, 4);
  const dataType = await describeSnapshots(c, { sourceDiskType: 'Data' });
  assert.deepEqual(dataType.snapshots.snapshot.map((s: any) => s.snapshotId), [dataSnap]);
  const named = await describeSnapshots(c, { snapshotName: 'sys-1' });
  assert.deepEqual(named.snapshots.snapshot.map((s: any) => s.snapshotId), [ids[1]]);
  const s = byIds.snapshots.snapshot.find((x: any) => x.snapshotId === ids[0]);
  assert.equal(s.status, 'accomplished');
  assert.equal(s.progress, '100%');
  assert.equal(s.sourceDiskId, system.diskId);
  assert.equal(s.sourceDiskType, 'system');
  assert.equal(String(s.sourceDiskSize), '40');
  assert.equal(s.usage, 'none');
  assert.equal(s.fullSnapshotSizeInBytes, 0, 'an untouched clone of a public image holds no bytes of its own');

  const pages: string[] = [];
  let token: string | undefined;
  do {
    const body = await describeSnapshots(c, { maxResults: 3, nextToken: token });
    pages.push(...body.snapshots.snapshot.map((x: any) => x.snapshotId));
    token = body.nextToken || undefined;
  } while (token);
  assert.deepEqual(pages.sort(), [...ids, dataSnap].sort());

  assert.equal((await sdkError(() => describeSnapshots(c, { snapshotIds: 's-1,s-2' }))).code, 'InvalidSnapshotIds.Malformed');
  assert.equal((await sdkError(() => describeSnapshots(c, { usage: 'everything' }))).code, 'InvalidUsage');
  assert.equal((await sdkError(() => describeSnapshots(c, { status: 'done' }))).code, 'InvalidStatus.NotFound');
  assert.equal((await sdkError(() => describeSnapshots(c, { filter: [new Ecs.DescribeSnapshotsRequestFilter({ key: 'Colour', value: 'x' })] }))).code, 'InvalidFilterKey.NotFound');
  assert.equal((await describeSnapshots(b, { snapshotIds: JSON.stringify(ids) })).totalCount, 0, 'others see none of them');
  assert.equal((await sdkError(() => c.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: system.diskId, snapshotName: 'auto-nope' })))).code, 'InvalidSnapshotName.Malformed');
});

test('custom images: clones of the same or a larger size, Usage, DeleteSnapshot refused, ReInitDisk back to the image', async () => {
  const src = await launch(a);
  const content = pattern(2 * CHUNK_SIZE + 12345, 3);
  await putBytes(aData, src.system.diskId, CHUNK_SIZE, content);
  const snap = await snapshot(a, src.system.diskId);
  assert.equal((await describeSnapshots(a, { snapshotIds: JSON.stringify([snap]) })).snapshots.snapshot[0].fullSnapshotSizeInBytes, 3 * CHUNK_SIZE);
  const imageId = await imageFromSnapshot(server, alice.accountId, snap);
  assert.equal((await describeSnapshots(a, { snapshotIds: JSON.stringify([snap]) })).snapshots.snapshot[0].usage, 'image');
  assert.deepEqual((await describeSnapshots(a, { usage: 'image' })).snapshots.snapshot.map((s: any) => s.snapshotId), [snap]);
  const refused = await sdkError(() => a.deleteSnapshot(new Ecs.DeleteSnapshotRequest({ snapshotId: snap })));
  assert.equal(refused.code, 'SnapshotCreatedImage');
  assert.equal(refused.statusCode, 403);

  const same = await launch(a, { imageId });
  assert.equal(same.system.size, 40);
  assert.equal(await manifestOf(same.system.diskId), (await server.app.services.db.selectFrom('snapshots').select('manifest_id').where('id', '=', snap).executeTakeFirstOrThrow()).manifest_id,
    'a same-size clone holds the image manifest itself');
  assert.deepEqual(await getBytes(aData, same.system.diskId, CHUNK_SIZE, content.length), content);
  const larger = await launch(a, { imageId, systemDisk: new Ecs.RunInstancesRequestSystemDisk({ size: '60' }) });
  assert.equal(larger.system.size, 60);
  assert.deepEqual(await getBytes(aData, larger.system.diskId, CHUNK_SIZE, content.length), content);
  assert.deepEqual(await getBytes(aData, larger.system.diskId, 59 * 1024 ** 3, 4096), Buffer.alloc(4096), 'the grown part reads as zeros');

  // Only what the clone changes counts against its snapshot.
  await putBytes(aData, same.system.diskId, 10 * CHUNK_SIZE, pattern(100, 4));
  const cloneSnap = await snapshot(a, same.system.diskId);
  assert.equal((await describeSnapshots(a, { snapshotIds: JSON.stringify([cloneSnap]) })).snapshots.snapshot[0].fullSnapshotSizeInBytes, CHUNK_SIZE);

  // ReInitDisk puts the image's content back (the instance must be stopped).
  await putBytes(aData, same.system.diskId, CHUNK_SIZE, pattern(4096, 5));
  assert.equal((await sdkError(() => a.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: same.system.diskId })))).code, 'IncorrectInstanceStatus');
  await stop(a, same.instanceId);
  await a.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: same.system.diskId, autoStartInstance: true }));
  assert.deepEqual(await getBytes(aData, same.system.diskId, CHUNK_SIZE, content.length), content);
  assert.deepEqual(await getBytes(aData, same.system.diskId, 10 * CHUNK_SIZE, 100), Buffer.alloc(100));
  const inst = (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify([same.instanceId]) }))).body.instances.instance[0];
  assert.equal(inst.status, 'Running', 'AutoStartInstance');

  // Own image deleted: ReInitDisk can no longer find it.
  await stop(a, same.instanceId);
  await server.app.services.db.deleteFrom('image_disks').where('image_id', '=', imageId).execute();
  await server.app.services.db.deleteFrom('images').where('id', '=', imageId).execute();
  const gone = await sdkError(() => a.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: same.system.diskId })));
  assert.equal(gone.code, 'InvalidDiskId.OperationNotSupported');
  assert.equal(gone.statusCode, 404);
  assert.deepEqual(await getBytes(aData, same.system.diskId, CHUNK_SIZE, content.length), content, 'disks from a deleted image keep working');
});

test('shared images: launch, then SharedImageDeleted once unshared or deleted', async () => {
  const src = await launch(a);
  await putBytes(aData, src.system.diskId, 0, pattern(512, 6));
  const imageId = await imageFromSnapshot(server, alice.accountId, await snapshot(a, src.system.diskId));
  await share(server, imageId, bob.accountId);
  const mine = await launch(b, { imageId });
  assert.deepEqual(await getBytes(bData, mine.system.diskId, 0, 512), pattern(512, 6));
  await stop(b, mine.instanceId);
  await b.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: mine.system.diskId }));
  await server.app.services.db.deleteFrom('image_shares').where('image_id', '=', imageId).execute();
  const unshared = await sdkError(() => b.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: mine.system.diskId })));
  assert.equal(unshared.code, 'SharedImageDeleted');
  assert.equal(unshared.statusCode, 403);
  await share(server, imageId, bob.accountId);
  await server.app.services.db.deleteFrom('images').where('id', '=', imageId).execute();
  assert.equal((await sdkError(() => b.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: mine.system.diskId })))).code, 'SharedImageDeleted');
  assert.deepEqual(await getBytes(bData, mine.system.diskId, 0, 512), pattern(512, 6));
});

test('ReplaceSystemDisk: a new system disk from another image, on a stopped instance', async () => {
  const src = await launch(a);
  const content = pattern(3000, 7);
  await putBytes(aData, src.system.diskId, 777, content);
  const imageId = await imageFromSnapshot(server, alice.accountId, await snapshot(a, src.system.diskId));

  const target = await launch(a, { systemDisk: new Ecs.RunInstancesRequestSystemDisk({ size: '45', category: 'cloud_ssd' }) });
  const request = (fields: Record<string, unknown> = {}) =>
    a.replaceSystemDisk(new Ecs.ReplaceSystemDiskRequest({ instanceId: target.instanceId, imageId, ...fields }));
  assert.equal((await sdkError(() => request())).code, 'IncorrectInstanceStatus');
  await stop(a, target.instanceId);
  assert.equal((await sdkError(() => request({ systemDisk: new Ecs.ReplaceSystemDiskRequestSystemDisk({ size: 41 }) }))).code, 'InvalidSystemDiskSize.ValueNotSupported', 'never smaller than the current disk');
  assert.equal((await sdkError(() => request({ imageId: 'm-bp1nosuchimage000000' }))).code, 'InvalidImageId.NotFound');
  const res = await request();
  const newDisk = res.body.diskId;
  assert.notEqual(newDisk, target.system.diskId);
  const disks = (await a.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId: target.instanceId, diskType: 'system' }))).body.disks.disk;
  assert.deepEqual(disks.map((d: any) => [d.diskId, d.imageId, d.category, d.size]), [[newDisk, imageId, 'cloud_ssd', 45]]);
  assert.deepEqual(await getBytes(aData, newDisk, 777, content.length), content);
  const inst = (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify([target.instanceId]) }))).body.instances.instance[0];
  assert.equal(inst.imageId, imageId);
  const img = (await a.describeImages(new Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou', imageId }))).body.images.image[0];
  assert.equal(img.usage, 'instance');
  // An image with a data-disk snapshot cannot replace a system disk.
  const withData = await imageFromSnapshot(server, alice.accountId, await snapshot(a, src.system.diskId));
  const dataSnap = await snapshot(a, src.system.diskId);
  await server.app.services.db.insertInto('image_disks').values({ image_id: withData, idx: 1, type: 'data', device: '/dev/xvdb', size_gib: 40, snapshot_id: dataSnap, format: '', import_bucket: '', import_object: '', progress: 100 }).execute();
  assert.equal((await sdkError(() => request({ imageId: withData }))).code, 'OperationDenied');
  // ...but RunInstances clones both of its disks.
  const both = await launch(a, { imageId: withData });
  assert.equal(both.data.length, 1);
  assert.equal(both.data[0].sourceSnapshotId, dataSnap);
  assert.deepEqual(await getBytes(aData, both.data[0].diskId, 777, content.length), content);
});

test('DeleteSnapshot: SnapshotCreatedDisk unless forced; then the data disk cannot be re-initialised', async () => {
  const src = await launch(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20 })] });
  await putBytes(aData, src.data[0].diskId, 0, pattern(1000, 8));
  const snap = await snapshot(a, src.data[0].diskId);
  const clone = await launch(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ snapshotId: snap })] });
  assert.equal((await describeSnapshots(a, { snapshotIds: JSON.stringify([snap]) })).snapshots.snapshot[0].usage, 'disk');
  assert.equal((await sdkError(() => a.deleteSnapshot(new Ecs.DeleteSnapshotRequest({ snapshotId: snap })))).code, 'SnapshotCreatedDisk');
  assert.equal((await sdkError(() => b.deleteSnapshot(new Ecs.DeleteSnapshotRequest({ snapshotId: snap, force: true })))).code, 'InvalidSnapshotId.NotFound');
  await stop(a, clone.instanceId);
  await putBytes(aData, clone.data[0].diskId, 0, pattern(10, 1));
  await a.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: clone.data[0].diskId }));
  assert.deepEqual(await getBytes(aData, clone.data[0].diskId, 0, 1000), pattern(1000, 8), 'a data disk re-initialises to its source snapshot');
  await a.deleteSnapshot(new Ecs.DeleteSnapshotRequest({ snapshotId: snap, force: true }));
  assert.equal((await describeSnapshots(a, { snapshotIds: JSON.stringify([snap]) })).totalCount, 0);
  assert.deepEqual(await getBytes(aData, clone.data[0].diskId, 0, 1000), pattern(1000, 8), 'the clone keeps its content');
  assert.equal((await sdkError(() => a.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: clone.data[0].diskId })))).code, 'InvalidSourceSnapshot');
  // An empty data disk re-initialises to zeros.
  await stop(a, src.instanceId);
  await a.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: src.data[0].diskId }));
  assert.deepEqual(await getBytes(aData, src.data[0].diskId, 0, 1000), Buffer.alloc(1000));
});

test('every manifest is held exactly by the disks and snapshots that point at it', async () => {
  assert.deepEqual(await manifestHoldsBalance(server), []);
});
