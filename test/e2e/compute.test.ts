/**
 * Instances and disks through the official SDK: RunInstances / CreateInstance with the image rules,
 * DescribeInstances / DescribeDisks with filters and paging, Start / Stop / Delete, and ownership.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestServer } from '../support/server.ts';
import { Ecs, ecsClient, popClient, sdkError } from '../support/sdk.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { PUBLIC_ARM, PUBLIC_DEPRECATED, PUBLIC_X64, imageFromSnapshot, launch, share } from '../api/disks/support.ts';

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let a: any;
let b: any;

before(async () => {
  ({ server, accounts: { alice, bob }, ecs: { alice: a, bob: b } } = await startServerWith(['alice', 'bob']));
});
after(() => server.stop());

const run = (client: any, fields: Record<string, unknown>) =>
  client.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-hangzhou', instanceType: 'ecs.g7.large', imageId: PUBLIC_X64, ...fields }));

test('RunInstances launches Running instances with a system disk and data disks; DescribeInstances and DescribeDisks show them', async () => {
  const res = await run(a, {
    amount: 2, instanceName: 'web-1',
    systemDisk: new Ecs.RunInstancesRequestSystemDisk({ category: 'cloud_essd', size: '50' }),
    dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 30 }), new Ecs.RunInstancesRequestDataDisk({ size: 100, category: 'cloud_ssd', deleteWithInstance: false })],
    tag: [new Ecs.RunInstancesRequestTag({ key: 'team', value: 'web' })],
  });
  const ids: string[] = res.body.instanceIdSets.instanceIdSet;
  assert.equal(ids.length, 2);
  assert.ok(ids.every((id) => /^i-bp1[0-9a-z]{17}$/.test(id)));

  const described = (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify(ids) }))).body;
  assert.equal(described.totalCount, 2);
  for (const i of described.instances.instance) {
    assert.equal(i.status, 'Running');
    assert.equal(i.imageId, PUBLIC_X64);
    assert.equal(i.instanceName, 'web-1');
    assert.equal(i.instanceType, 'ecs.g7.large');
    assert.equal(i.cpu, 2);
    assert.equal(i.memory, 8192);
    assert.equal(i.OSType, 'linux');
    assert.match(i.OSNameEn, /Ubuntu/);
    assert.equal(i.regionId, 'cn-hangzhou');
    assert.deepEqual(i.tags.tag.map((t: any) => [t.tagKey, t.tagValue]), [['team', 'web']]);
  }
  const disks = (await a.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId: ids[0] }))).body.disks.disk;
  assert.equal(disks.length, 3);
  const system = disks.find((d: any) => d.type === 'system');
  assert.equal(system.size, 50);
  assert.equal(system.category, 'cloud_essd');
  assert.equal(system.device, '/dev/xvda');
  assert.equal(system.imageId, PUBLIC_X64);
  assert.equal(system.status, 'In_use');
  const data = disks.filter((d: any) => d.type === 'data').sort((x: any, y: any) => x.size - y.size);
  assert.deepEqual(data.map((d: any) => [d.size, d.category, d.device, d.deleteWithInstance]), [[30, 'cloud_efficiency', '/dev/xvdb', true], [100, 'cloud_ssd', '/dev/xvdc', false]]);

  const byType = (await a.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId: ids[0], diskType: 'data' }))).body;
  assert.equal(byType.totalCount, 2);
  const byTag = (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', tag: [new Ecs.DescribeInstancesRequestTag({ key: 'team', value: 'web' })] }))).body;
  assert.equal(byTag.totalCount, 2);
  const byName = (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceName: 'web*' }))).body;
  assert.ok(byName.instances.instance.every((i: any) => i.instanceName.startsWith('web')) && byName.totalCount >= 2);

  // DescribeImages reports the image as used by an instance.
  const img = (await a.describeImages(new Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou', imageId: PUBLIC_X64 }))).body.images.image[0];
  assert.equal(img.usage, 'instance');
});

test('the system disk defaults to max(40, image size) and may not be smaller than the image', async () => {
  const { system } = await launch(a);
  assert.equal(system.size, 40);
  assert.equal(system.category, 'cloud_efficiency');
  const small = await sdkError(() => run(a, { systemDisk: new Ecs.RunInstancesRequestSystemDisk({ size: '10', category: 'cloud_essd', performanceLevel: 'PL0' }) }));
  assert.equal(small.code, 'InvalidSystemDiskSize.LessThanImageSize');
  const big = await sdkError(() => run(a, { systemDisk: new Ecs.RunInstancesRequestSystemDisk({ size: '4096' }) }));
  assert.equal(big.code, 'InvalidSystemDiskSize.MoreThanMaxSize');
  const pl3 = await sdkError(() => run(a, { systemDisk: new Ecs.RunInstancesRequestSystemDisk({ size: '100', category: 'cloud_essd', performanceLevel: 'PL3' }) }));
  assert.equal(pl3.code, 'InvalidSystemDiskSize.LessThanMinSize');
  const badCategory = await sdkError(() => run(a, { systemDisk: new Ecs.RunInstancesRequestSystemDisk({ category: 'floppy' }) }));
  assert.equal(badCategory.code, 'InvalidSystemDiskCategory.ValueNotSupported');
  const badData = await sdkError(() => run(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 1, category: 'cloud_efficiency' })] }));
  assert.equal(badData.code, 'InvalidDataDiskSize.ValueNotSupported');
});

test('launch rules: image visibility, region, status, architecture, instance type', async () => {
  const missing = await sdkError(() => run(a, { imageId: 'm-bp1doesnotexist00000' }));
  assert.equal(missing.code, 'InvalidImageId.NotFound');
  assert.equal(missing.statusCode, 404);
  const deprecated = await sdkError(() => run(a, { imageId: PUBLIC_DEPRECATED }));
  assert.equal(deprecated.code, 'OperationDenied.ImageNotValid');
  assert.equal(deprecated.statusCode, 403);
  const arch = await sdkError(() => run(a, { imageId: PUBLIC_ARM }));
  assert.equal(arch.code, 'ImageNotSupportInstanceType');
  await run(a, { imageId: PUBLIC_ARM, instanceType: 'ecs.g8y.large' }); // an ARM type runs the arm64 image
  const type = await sdkError(() => run(a, { instanceType: 'ecs.nope.large' }));
  assert.equal(type.code, 'InvalidInstanceType.ValueNotSupported');
  const armInEurope = await sdkError(() => a.runInstances(new Ecs.RunInstancesRequest({ regionId: 'eu-central-1', imageId: PUBLIC_X64, instanceType: 'ecs.g8y.large' })));
  assert.equal(armInEurope.code, 'InvalidInstanceType.ValueNotSupported', 'the type is not offered in that region');
  const zone = await sdkError(() => run(a, { zoneId: 'cn-beijing-a' }));
  assert.equal(zone.code, 'InvalidZoneId.NotFound');
  const noImage = await sdkError(() => a.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-hangzhou', instanceType: 'ecs.g7.large' })));
  assert.equal(noImage.code, 'MissingParameter');
  const dry = await sdkError(() => run(a, { dryRun: true }));
  assert.equal(dry.code, 'DryRunOperation');

  // A custom image: its owner launches it, even Deprecated; others only once it is shared, and never Deprecated.
  const { system } = await launch(a);
  const snap = (await a.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: system.diskId }))).body.snapshotId;
  const imageId = await imageFromSnapshot(server, alice.accountId, snap);
  await run(a, { imageId });
  assert.equal((await sdkError(() => run(b, { imageId }))).code, 'InvalidImageId.NotFound');
  await share(server, imageId, bob.accountId);
  await run(b, { imageId });
  const otherRegion = await sdkError(() => b.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-beijing', imageId, instanceType: 'ecs.g7.large' })));
  assert.equal(otherRegion.code, 'InvalidImageId.NotFound', 'images are region-local');
  await server.app.services.db.updateTable('images').set({ status: 'Deprecated' }).where('id', '=', imageId).execute();
  await run(a, { imageId });
  assert.equal((await sdkError(() => run(b, { imageId }))).code, 'OperationDenied.ImageNotValid');
  await server.app.services.db.updateTable('images').set({ status: 'Creating' }).where('id', '=', imageId).execute();
  assert.equal((await sdkError(() => run(a, { imageId }))).code, 'OperationDenied.ImageNotValid');

  // ImageFamily picks the family's newest Available image.
  const fam = await run(a, { imageId: undefined, imageFamily: 'acs:ubuntu_24_04_x64' });
  const inst = (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify(fam.body.instanceIdSets.instanceIdSet) }))).body.instances.instance[0];
  assert.equal(inst.imageId, PUBLIC_X64, 'the newest Available image of the family, not the deprecated one');
});

test('StopInstance, StartInstance and DeleteInstance follow the status rules; kept data disks become Available', async () => {
  const { instanceId, system, data } = await launch(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20, deleteWithInstance: false })] });
  const status = async () => (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify([instanceId]) }))).body.instances.instance[0]?.status;
  assert.equal((await sdkError(() => a.startInstance(new Ecs.StartInstanceRequest({ instanceId })))).code, 'IncorrectInstanceStatus');
  assert.equal((await sdkError(() => a.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId })))).code, 'IncorrectInstanceStatus');
  await a.stopInstance(new Ecs.StopInstanceRequest({ instanceId }));
  assert.equal(await status(), 'Stopped');
  assert.equal((await sdkError(() => a.stopInstance(new Ecs.StopInstanceRequest({ instanceId })))).code, 'IncorrectInstanceStatus');
  await a.startInstance(new Ecs.StartInstanceRequest({ instanceId }));
  assert.equal(await status(), 'Running');
  await a.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId, force: true }));
  assert.equal(await status(), undefined);
  const left = (await a.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', diskIds: JSON.stringify([system.diskId, data[0].diskId]) }))).body.disks.disk;
  assert.deepEqual(left.map((d: any) => [d.diskId, d.status, d.instanceId]), [[data[0].diskId, 'Available', '']]);
  assert.equal((await sdkError(() => a.stopInstance(new Ecs.StopInstanceRequest({ instanceId })))).code, 'InvalidInstanceId.NotFound');
  // The released system disk's manifest is gone with it; the kept disk still holds its own.
  const manifests = await server.app.services.db.selectFrom('disks').select('manifest_id').where('id', '=', data[0].diskId).execute();
  assert.equal(manifests.length, 1);
});

test('CreateInstance makes one Stopped instance', async () => {
  const res = await a.createInstance(new Ecs.CreateInstanceRequest({ regionId: 'cn-hangzhou', imageId: PUBLIC_X64, instanceType: 'ecs.c7.large' }));
  const id = res.body.instanceId;
  const i = (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify([id]) }))).body.instances.instance[0];
  assert.equal(i.status, 'Stopped');
  assert.equal(i.memory, 4096);
});

test('NextToken/MaxResults and PageNumber/PageSize page through instances newest first', async () => {
  const c = ecsClient(server.hostPort, await server.account('pager'));
  await run(c, { amount: 23 });
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const body = (await c.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', maxResults: 10, nextToken: token }))).body;
    assert.equal(body.totalCount, 23);
    seen.push(...body.instances.instance.map((i: any) => i.instanceId));
    token = body.nextToken || undefined;
    pages++;
  } while (token);
  assert.equal(pages, 3);
  assert.equal(new Set(seen).size, 23);
  const page2 = (await c.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', pageSize: 10, pageNumber: 2 }))).body;
  assert.deepEqual(page2.instances.instance.map((i: any) => i.instanceId), seen.slice(10, 20));
  assert.equal(page2.pageNumber, 2);
  const tiny = (await c.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', maxResults: 2 }))).body;
  assert.equal(tiny.instances.instance.length, 10, 'DescribeInstances raises MaxResults below 10 to 10');
  const bad = await sdkError(() => c.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: 'i-1,i-2' })));
  assert.equal(bad.code, 'InvalidInstanceIds.Malformed');
  const badToken = await sdkError(() => c.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', nextToken: '!!' })));
  assert.equal(badToken.code, 'InvalidParameter');
});

test('ClientToken makes RunInstances idempotent', async () => {
  const first = await run(a, { clientToken: 'run-once-1' });
  const again = await run(a, { clientToken: 'run-once-1' });
  assert.deepEqual(again.body.instanceIdSets, first.body.instanceIdSets);
  const mismatch = await sdkError(() => run(a, { clientToken: 'run-once-1', amount: 2 }));
  assert.equal(mismatch.code, 'IdempotentParameterMismatch');
});

test('another account sees none of the instances and disks and can touch none of them', async () => {
  const { instanceId, system } = await launch(a);
  const listed = (await b.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify([instanceId]) }))).body;
  assert.equal(listed.totalCount, 0);
  const disks = (await b.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', diskIds: JSON.stringify([system.diskId]) }))).body;
  assert.equal(disks.totalCount, 0);
  assert.equal((await sdkError(() => b.stopInstance(new Ecs.StopInstanceRequest({ instanceId })))).code, 'InvalidInstanceId.NotFound');
  assert.equal((await sdkError(() => b.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId, force: true })))).code, 'InvalidInstanceId.NotFound');
  assert.equal((await sdkError(() => b.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: system.diskId })))).code, 'InvalidDiskId.NotFound');
  assert.equal((await sdkError(() => b.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: system.diskId })))).code, 'InvalidDiskId.NotFound');
  assert.equal((await sdkError(() => b.replaceSystemDisk(new Ecs.ReplaceSystemDiskRequest({ instanceId, imageId: PUBLIC_X64 })))).code, 'InvalidInstanceId.NotFound');
});

test('pop-core (V1, GET) reaches the compute actions too', async () => {
  const client = popClient(server.endpoint, alice);
  const res: any = await client.request('DescribeDisks', { RegionId: 'cn-hangzhou', DiskType: 'system', MaxResults: 10 }, { method: 'GET' });
  assert.ok(Array.isArray(res.Disks.Disk) && res.Disks.Disk.length > 0);
  assert.ok(res.Disks.Disk.every((d: any) => d.Type === 'system'));
});
