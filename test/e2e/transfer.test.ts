/**
 * User stories for ImportImage, ExportImage and the task actions through the official SDK, with buckets
 * filled by the CLI's client. Content checks compare what comes back out with qemu-img compare.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerWith, type TestServer } from '../support/server.ts';
import { Ecs, ecsClient, popClient, sdkError } from '../support/sdk.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import type { ClientConfig } from '../../src/cli/api.ts';
import { createBucket, getObject, listAllObjects, putObject } from '../../src/cli/commands/transfer/client.ts';
import {
  REGION, clientConfig, describeImage, importRequest, makeDisk, sameContent, settledImage, settledTask, taskAttribute, type DiskFixture,
} from './transfer-support.ts';
import { waitFor } from '../support/wait.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let aliceCfg: ClientConfig;
let client: any;
let dir: string;
let system: DiskFixture;
let data: DiskFixture;
let imageId: string;

before(async () => {
  ({ server, accounts: { alice, bob }, ecs: { alice: client } } = await startServerWith(['alice', 'bob']));
  aliceCfg = clientConfig(server.endpoint, alice);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-transfer-'));
  system = makeDisk(dir, 'system', { virtualMiB: 64, dataMiB: 24, format: 'qcow2' });
  data = makeDisk(dir, 'data', { virtualMiB: 37, dataMiB: 8, format: 'vpc' });
  await createBucket(aliceCfg, 'alice-images');
  await putObject(aliceCfg, 'alice-images', 'disks/system.qcow2', system.file);
  await putObject(aliceCfg, 'alice-images', 'disks/data.vhd', data.file);
});
after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('Alice imports a system and a data disk from her bucket and gets an Available image with a snapshot per disk', async () => {
  const started = Date.now();
  const res = await client.importImage(importRequest('alice-images', [{ object: 'disks/system.qcow2', format: 'QCOW2' }, { object: 'disks/data.vhd' }], {
    imageName: 'web-base', description: 'imported web server', platform: 'Ubuntu', architecture: 'x86_64', bootMode: 'UEFI',
  }));
  assert.ok(Date.now() - started < 3000, 'the call returns at once');
  imageId = res.body.imageId;
  assert.match(imageId, /^m-bp1[0-9a-z]{17}$/);
  assert.match(res.body.taskId, /^t-bp1[0-9a-z]{17}$/);
  assert.equal(res.body.regionId, REGION);

  const first = await describeImage(client, imageId);
  assert.ok(['Waiting', 'Creating', 'Available'].includes(first.status), first.status);
  const image = await settledImage(client, imageId);
  assert.equal(image.status, 'Available');
  assert.equal(image.progress, '100%');
  assert.equal(image.platform, 'Ubuntu');
  assert.equal(image.bootMode, 'UEFI');
  assert.equal(image.OSType ?? image.osType, 'linux');
  assert.equal(image.size, 1, 'a 64 MiB disk rounds up to 1 GiB');
  const disks = image.diskDeviceMappings.diskDeviceMapping;
  assert.deepEqual(disks.map((d: any) => [d.type, d.format, d.importOSSBucket, d.importOSSObject, d.progress]), [
    ['system', 'QCOW2', 'alice-images', 'disks/system.qcow2', '100%'],
    ['data', 'VHD', 'alice-images', 'disks/data.vhd', '100%'],
  ]);
  for (const d of disks) assert.match(d.snapshotId, /^s-bp1/);

  const snaps = await server.app.services.db.selectFrom('snapshots').selectAll().where('id', 'in', disks.map((d: any) => d.snapshotId)).execute();
  assert.equal(snaps.length, 2);
  for (const s of snaps) {
    assert.equal(s.owner_id, alice.accountId, 'the snapshots are the importer\'s');
    assert.ok(s.unique_bytes > 0);
    assert.equal((await server.app.services.dataPlane.manifests.load(s.manifest_id))?.holders, 1, 'each snapshot holds its manifest');
  }

  const task = await settledTask(client, res.body.taskId);
  assert.equal(task.taskStatus, 'Finished');
  assert.equal(task.taskAction, 'ImportImage');
  assert.equal(task.taskProcess, '100%');
  assert.equal(task.supportCancel, 'false');
  assert.equal(task.totalCount, 2);
  assert.equal(task.successCount, 2);
  assert.match(task.creationTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/);
  assert.match(task.finishedTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/);
});

test('Alice exports the image as qcow2, vhd and raw; every object holds the original bytes', async () => {
  for (const [format, qemuFormat] of [['qcow2', 'qcow2'], ['vhd', 'vpc'], ['raw', 'raw']] as const) {
    const res = await client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId, OSSBucket: 'alice-images', OSSPrefix: 'exp', imageFormat: format }));
    const task = await settledTask(client, res.body.taskId);
    assert.equal(task.taskStatus, 'Finished', JSON.stringify(task));
    assert.equal(task.taskAction, 'ExportImage');
    const keys = task.operationProgressSet.operationProgress.map((o: any) => o.relatedItemSet.relatedItem.find((r: any) => r.name === 'OSSObject').value);
    assert.deepEqual(keys, [`exp_${imageId}_${res.body.taskId}.${format}`, `exp_${imageId}_${res.body.taskId}_1.${format}`]);
    for (const [i, key] of keys.entries()) {
      const out = path.join(dir, `out-${i}.${format}`);
      await getObject(aliceCfg, 'alice-images', key, out);
      const original = i === 0 ? system : data;
      assert.ok(sameContent(out, qemuFormat, original.raw, 'raw'), `${key} equals the imported disk`);
    }
  }
  const listed = await listAllObjects(aliceCfg, 'alice-images', 'exp_');
  assert.equal(listed.length, 6);
});

/** The SDK error's code and HTTP status. */
async function failure(fn: () => Promise<unknown>): Promise<[string, number | undefined]> {
  const e = await sdkError(fn);
  return [e.code, e.statusCode];
}

test('ImportImage rejects bad requests at once with the real codes, creating nothing', async () => {
  const bobCfg = clientConfig(server.endpoint, bob);
  await createBucket(bobCfg, 'bob-images');
  await putObject(bobCfg, 'bob-images', 'disk.qcow2', system.file);
  await createBucket(clientConfig(server.endpoint, alice, 'cn-beijing'), 'alice-beijing');
  await putObject(aliceCfg, 'alice-beijing', 'disk.qcow2', system.file);
  const empty = path.join(dir, 'empty.raw');
  fs.writeFileSync(empty, '');
  await putObject(aliceCfg, 'alice-images', 'empty.raw', empty);
  const imagesBefore = await server.app.services.db.selectFrom('images').select('id').where('owner_id', '=', alice.accountId).execute();

  const imp = (disks: { object: string; format?: string; size?: number }[], extra: Record<string, unknown> = {}, bucket = 'alice-images') =>
    failure(() => client.importImage(importRequest(bucket, disks, extra)));
  const ok = [{ object: 'disks/system.qcow2' }];
  assert.deepEqual(await failure(() => client.importImage(new Ecs.ImportImageRequest({ diskDeviceMapping: [] }))), ['MissingParameter', 400]);
  assert.deepEqual(await imp(ok, { regionId: 'mars-1' }), ['InvalidRegionId.NotFound', 404]);
  assert.deepEqual(await failure(() => client.importImage(new Ecs.ImportImageRequest({ regionId: REGION }))), ['MissingParameter.DiskDeviceMapping', 403]);
  assert.deepEqual(await failure(() => client.importImage(new Ecs.ImportImageRequest({
    regionId: REGION, diskDeviceMapping: [new Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: 'alice-images' })],
  }))), ['MissingParameter', 400]);
  assert.deepEqual(await imp(ok, {}, 'no-such-bucket'), ['InvalidOSSBucket.NotFound', 400]);
  assert.deepEqual(await imp(ok, {}, 'Bad_Bucket'), ['InvalidOSSBucket.Malformed', 400]);
  assert.deepEqual(await imp([{ object: 'disk.qcow2' }], {}, 'alice-beijing'), ['InvalidOSSBucket.NotFound', 400], 'a bucket in another region');
  assert.deepEqual(await imp([{ object: 'disk.qcow2' }], {}, 'bob-images'), ['InvalidOSS.NotAuthorized', 403]);
  assert.deepEqual(await imp([{ object: 'disks/missing.qcow2' }]), ['InvalidOSSObject.NotFound', 400]);
  assert.deepEqual(await imp([{ object: '../bob-images/disk.qcow2' }]), ['InvalidOSSObject.Malformed', 400]);
  assert.deepEqual(await imp([{ object: 'empty.raw' }]), ['InvalidOSSObject.Size', 400]);
  assert.deepEqual(await imp(ok, { imageName: '1-starts-with-a-digit' }), ['InvalidImageName.Malformed', 400]);
  assert.deepEqual(await imp(ok, { imageName: 'web-base' }), ['InvalidImageName.Duplicated', 400]);
  assert.deepEqual(await imp(ok, { description: 'http://spam' }), ['InvalidDescription.Malformed', 400]);
  assert.deepEqual(await imp([{ object: 'disks/system.qcow2', format: 'ISO' }]), ['InvalidImageFormat.Malformed', 400]);
  assert.deepEqual(await imp(ok, { platform: 'Windows 95' }), ['InvalidPlatform.Malformed', 400]);
  assert.deepEqual(await imp(ok, { OSType: 'beos' }), ['InvalidOSType.Malformed', 400]);
  assert.deepEqual(await imp(ok, { architecture: 'sparc' }), ['InvalidArchitecture.Malformed', 400]);
  assert.deepEqual(await imp(ok, { bootMode: 'Legacy' }), ['InvalidBootMode.Malformed', 400]);
  assert.deepEqual(await imp(ok, { architecture: 'arm64', bootMode: 'BIOS' }), ['InvalidBootMode.NotSupport', 400]);
  assert.deepEqual(await imp(ok, { licenseType: 'Pirate' }), ['InvalidLicenseType.NotSupported', 400]);
  assert.deepEqual(await imp([{ object: 'disks/system.qcow2', size: 4096 }]), ['InvalidImageSize', 400]);
  assert.deepEqual(await imp([{ object: 'disks/system.qcow2' }, { object: 'disks/data.vhd', size: 4096 }]), ['InvalidDataDiskSize', 400]);
  assert.deepEqual(await imp(ok, { dryRun: true }), ['DRYRUN.SUCCESS', 400]);

  const imagesAfter = await server.app.services.db.selectFrom('images').select('id').where('owner_id', '=', alice.accountId).execute();
  assert.equal(imagesAfter.length, imagesBefore.length, 'no image was created');
});

test('ImportImage with a ClientToken is idempotent', async () => {
  const req = () => importRequest('alice-images', [{ object: 'disks/data.vhd' }], { imageName: 'token-image', clientToken: 'tok-1' });
  const a = await client.importImage(req());
  const b = await client.importImage(req());
  assert.equal(b.body.imageId, a.body.imageId);
  assert.equal(b.body.taskId, a.body.taskId);
  const [code] = await failure(() => client.importImage(importRequest('alice-images', [{ object: 'disks/system.qcow2' }], { imageName: 'token-image', clientToken: 'tok-1' })));
  assert.equal(code, 'IdempotentParameterMismatch');
  assert.equal((await settledImage(client, a.body.imageId)).status, 'Available');
});

test('A file the inspector rejects ends CreateFailed with a reason the user can act on', async () => {
  const base = path.join(dir, 'base.qcow2');
  const child = path.join(dir, 'child.qcow2');
  execQemu('create', '-f', 'qcow2', base, '64M');
  execQemu('create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', child);
  await putObject(aliceCfg, 'alice-images', 'bad/child.qcow2', child);
  const big = makeDisk(dir, 'big', { virtualMiB: 2048 + 64, dataMiB: 4, format: 'qcow2' });
  await putObject(aliceCfg, 'alice-images', 'bad/big.qcow2', big.file);
  const manifestsBefore = await countManifests();

  const cases: [string, { object: string; format?: string; size?: number }, string, RegExp][] = [
    ['backing-file', { object: 'bad/child.qcow2' }, 'InvalidImage.BackingFile', /backing file/],
    ['declared-vhd', { object: 'disks/system.qcow2', format: 'VHD' }, 'InvalidImageFormat.Mismatch', /declared as vhd but the file is qcow2/],
    ['too-small', { object: 'bad/big.qcow2', size: 2 }, 'InvalidImageSize', /set it to at least 3/],
  ];
  for (const [name, disk, code, message] of cases) {
    const res = await client.importImage(importRequest('alice-images', [disk], { imageName: `bad-${name}` }));
    const image = await settledImage(client, res.body.imageId);
    assert.equal(image.status, 'CreateFailed', name);
    const task = await settledTask(client, res.body.taskId);
    assert.equal(task.taskStatus, 'Failed');
    assert.equal(task.failedCount, 1);
    const op = task.operationProgressSet.operationProgress[0];
    assert.equal(op.operationStatus, 'Failed');
    assert.equal(op.errorCode, code, name);
    assert.match(op.errorMsg, message);
  }
  assert.equal(await countManifests(), manifestsBefore, 'failed imports hold no manifests');
});

test('A data disk that fails releases the system disk already imported', async () => {
  const base = path.join(dir, 'base.qcow2');
  const manifestsBefore = await countManifests();
  const res = await client.importImage(importRequest('alice-images', [{ object: 'disks/system.qcow2' }, { object: 'bad/child.qcow2' }], { imageName: 'half-good' }));
  assert.ok(fs.existsSync(base));
  assert.equal((await settledImage(client, res.body.imageId)).status, 'CreateFailed');
  const task = await settledTask(client, res.body.taskId);
  assert.deepEqual(task.operationProgressSet.operationProgress.map((o: any) => o.operationStatus), ['Failed', 'Failed'], 'the data disk is inspected before the system disk is imported');
  assert.equal(await countManifests(), manifestsBefore);
});

test('ExportImage refuses what cannot be exported', async () => {
  const exp = (req: Record<string, unknown>) => failure(() => client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId, OSSBucket: 'alice-images', ...req })));
  const publicImage = (await client.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, imageOwnerAlias: 'system', pageSize: 1 }))).body.images.image[0].imageId;
  const failed = (await client.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, imageName: 'bad-backing-file', status: 'CreateFailed' }))).body.images.image[0].imageId;
  const { insertCustomImage } = await import('../support/images.ts');
  const market = await insertCustomImage(server.app.services.db, { id: 'm-bp1market0000000000', region: REGION, owner_id: alice.accountId, name: 'from-market', product_code: 'cmjj0123' });

  assert.deepEqual(await exp({ OSSBucket: undefined }), ['MissingParameter', 400]);
  assert.deepEqual(await exp({ imageId: 'm-bp1doesnotexist00000' }), ['InvalidImageId.NotFound', 404]);
  assert.deepEqual(await failure(() => ecsClient(server.hostPort, bob).exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId, OSSBucket: 'bob-images' }))), ['InvalidImageId.NotFound', 404], 'another account\'s image reveals nothing');
  assert.deepEqual(await exp({ imageId: publicImage }), ['InvalidImageCategory.NotSupported', 403]);
  assert.deepEqual(await exp({ imageId: market.id }), ['ImageNotSupported', 403]);
  assert.deepEqual(await exp({ imageId: failed }), ['IncorrectImageStatus', 400]);
  assert.deepEqual(await exp({ OSSPrefix: 'no-dashes' }), ['InvalidOSSPrefix.Malformed', 400]);
  assert.deepEqual(await exp({ imageFormat: 'vdi' }), ['InvalidImageFormat.Malformed', 400]);
  assert.deepEqual(await exp({ OSSBucket: 'no-such-bucket' }), ['InvalidOSSBucket.NotFound', 400]);
  assert.deepEqual(await exp({ OSSBucket: 'bob-images' }), ['InvalidOSS.NotAuthorized', 403]);
  assert.deepEqual(await exp({ dryRun: true }), ['DryRunOperation', 400]);

  const first = await client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId, OSSBucket: 'alice-images', imageFormat: 'qcow2' }));
  assert.deepEqual(await exp({}), ['ImageIsExporting', 403]);
  assert.equal((await settledTask(client, first.body.taskId)).taskStatus, 'Finished');
});

test('DescribeTasks filters by id, action, status, resource and time, and pages', async () => {
  const all = (await client.describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION, pageSize: 100 }))).body;
  assert.ok(all.totalCount >= 10);
  assert.equal(all.taskSet.task.length, all.totalCount);
  const times = all.taskSet.task.map((t: any) => t.creationTime);
  assert.deepEqual([...times].sort().reverse(), times, 'newest first');
  for (const t of all.taskSet.task) {
    assert.match(t.taskId, /^t-bp1/);
    assert.ok(['ImportImage', 'ExportImage'].includes(t.taskAction));
    assert.ok(['Finished', 'Failed'].includes(t.taskStatus));
    assert.equal(t.supportCancel, 'false');
    assert.match(t.resourceId, /^m-bp1/);
  }
  const q = async (extra: Record<string, unknown>) => (await client.describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION, pageSize: 100, ...extra }))).body;
  const failedTasks = await q({ taskStatus: 'Failed' });
  assert.ok(failedTasks.totalCount >= 4 && failedTasks.taskSet.task.every((t: any) => t.taskStatus === 'Failed'));
  const exports = await q({ taskAction: 'ExportImage' });
  assert.ok(exports.totalCount >= 4 && exports.taskSet.task.every((t: any) => t.taskAction === 'ExportImage'));
  const two = all.taskSet.task.slice(0, 2).map((t: any) => t.taskId);
  assert.deepEqual((await q({ taskIds: two.join(',') })).taskSet.task.map((t: any) => t.taskId), two);
  const byImage = await q({ resourceIds: [imageId] });
  assert.ok(byImage.taskSet.task.length >= 5 && byImage.taskSet.task.every((t: any) => t.resourceId === imageId));
  assert.equal((await q({ startTime: '2001-01-01T00:00Z', endTime: '2001-01-02T00:00Z' })).totalCount, 0);
  assert.equal((await q({ startTime: '2001-01-01T00:00:00Z' })).totalCount, all.totalCount);
  const page2 = (await client.describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION, pageSize: 2, pageNumber: 2 }))).body;
  assert.deepEqual(page2.taskSet.task.map((t: any) => t.taskId), all.taskSet.task.slice(2, 4).map((t: any) => t.taskId));
  assert.equal(page2.pageNumber, 2);
  assert.equal(page2.totalCount, all.totalCount);

  const pop = await popClient(server.endpoint, alice).request('DescribeTasks', { RegionId: REGION, 'ResourceIds.1': imageId, TaskAction: 'ImportImage' }, { method: 'GET' });
  assert.ok(pop.TaskSet.Task.length >= 1, 'V1 clients filter the same way');

  assert.equal((await ecsClient(server.hostPort, bob).describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION }))).body.totalCount, 0, 'Bob sees none of Alice\'s tasks');
  assert.deepEqual(await failure(() => client.describeTasks(new Ecs.DescribeTasksRequest({}))), ['MissingParameter', 400]);
  assert.deepEqual(await failure(() => client.describeTasks(new Ecs.DescribeTasksRequest({ regionId: 'mars-1' }))), ['InvalidRegionId.NotFound', 404]);
  assert.deepEqual(await failure(() => client.describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION, startTime: 'yesterday' }))), ['InvalidParameter', 400]);
});

test('DescribeTaskAttribute and CancelTask answer only for the caller\'s tasks', async () => {
  const done = (await client.describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION, taskStatus: 'Finished', pageSize: 1 }))).body.taskSet.task[0].taskId;
  const bobClient = ecsClient(server.hostPort, bob);
  assert.deepEqual(await failure(() => taskAttribute(client, 't-bp1doesnotexist00000')), ['InvalidTaskId.NotFound', 400]);
  assert.deepEqual(await failure(() => taskAttribute(bobClient, done)), ['InvalidTaskId.NotFound', 400]);
  assert.deepEqual(await failure(() => taskAttribute(client, done, 'cn-beijing')), ['InvalidTaskId.NotFound', 400]);
  assert.deepEqual(await failure(() => client.describeTaskAttribute(new Ecs.DescribeTaskAttributeRequest({ regionId: REGION }))), ['MissingParameter', 400]);

  const cancel = (c: any, taskId: string) => failure(() => c.cancelTask(new Ecs.CancelTaskRequest({ regionId: REGION, taskId })));
  assert.deepEqual(await cancel(client, done), ['InvalidTaskId.IncorrectTaskStatus', 403]);
  assert.deepEqual(await cancel(client, 't-bp1doesnotexist00000'), ['InvalidTaskId.NotFound', 400]);
  assert.deepEqual(await cancel(bobClient, done), ['InvalidTaskId.NotFound', 400]);
  const other = await server.app.services.jobs.enqueue(server.app.services.db, { kind: 'ModifyDiskSpec', region: REGION, accountId: alice.accountId, resourceId: 'd-bp1someDisk' });
  assert.deepEqual(await cancel(client, other.id), ['InvalidTaskId.TaskActionNotSupport', 403]);
  await server.app.services.db.deleteFrom('jobs').where('id', '=', other.id).execute();

  const glance = await server.app.services.jobs.enqueue(server.app.services.db, { kind: 'GlanceImport', region: REGION, accountId: alice.accountId, resourceId: 'm-bp1glanceimport00' });
  const listed = (await client.describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION, pageSize: 100 }))).body.taskSet.task.map((t: any) => t.taskId);
  assert.ok(!listed.includes(glance.id), 'a Glance import is not an ECS task');
  assert.equal((await client.describeTasks(new Ecs.DescribeTasksRequest({ regionId: REGION, taskAction: 'GlanceImport' }))).body.totalCount, 0);
  assert.deepEqual(await failure(() => taskAttribute(client, glance.id)), ['InvalidTaskId.NotFound', 400]);
  await server.app.services.db.deleteFrom('jobs').where('id', '=', glance.id).execute();
});

test('Alice cancels an import in progress: the task ends Deleted, the image UnAvailable, nothing stays held', async () => {
  // Every cluster allocated: the importer would read 8 GiB (many seconds; the cancel comes long before), though
  // the file holds 16 MiB. It goes straight into the bucket's folder, as the folder backend allows, instead of
  // sending 8 GiB of holes over HTTP.
  const slow = makeDisk(dir, 'slow', { virtualMiB: 8192, dataMiB: 16, format: 'qcow2', preallocate: true });
  fs.renameSync(slow.file, path.join(server.dataDir, 'buckets', 'alice-images', 'slow.qcow2'));
  const manifestsBefore = await countManifests();
  const res = await client.importImage(importRequest('alice-images', [{ object: 'disks/data.vhd' }, { object: 'slow.qcow2' }], { imageName: 'to-cancel' }));
  const running = await waitFor(async () => {
    const t = await taskAttribute(client, res.body.taskId);
    return t.successCount === 1 ? t : undefined;
  }, { intervalMs: 10 });
  assert.equal(running.taskStatus, 'Processing');
  assert.equal(running.supportCancel, 'true');
  // Progress really moves while the big disk is read: the image, its disk and the task all show it.
  const moving = await waitFor(async () => {
    const image = await describeImage(client, res.body.imageId);
    return parseInt(image.progress, 10) >= 5 ? image : undefined;
  }, { intervalMs: 10 });
  assert.equal(moving.status, 'Creating');
  assert.ok(parseInt(moving.progress, 10) < 100);
  const diskProgress = parseInt(moving.diskDeviceMappings.diskDeviceMapping[1].progress, 10);
  assert.ok(diskProgress > 0 && diskProgress < 100, moving.diskDeviceMappings.diskDeviceMapping[1].progress);
  assert.equal(moving.diskDeviceMappings.diskDeviceMapping[0].progress, '100%');
  assert.ok(parseInt((await taskAttribute(client, res.body.taskId)).taskProcess, 10) >= 5);
  await client.cancelTask(new Ecs.CancelTaskRequest({ regionId: REGION, taskId: res.body.taskId }));
  const task = await settledTask(client, res.body.taskId);
  assert.equal(task.taskStatus, 'Deleted');
  assert.equal(task.supportCancel, 'false');
  assert.equal((await settledImage(client, res.body.imageId)).status, 'UnAvailable');
  assert.equal(await countManifests(), manifestsBefore, 'the committed system disk was released too');
});

function execQemu(...args: string[]): void {
  execFileSync('qemu-img', args, { stdio: 'pipe' });
}

async function countManifests(): Promise<number> {
  const { n } = await server.app.services.db.selectFrom('manifests').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(n);
}

