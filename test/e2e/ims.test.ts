/**
 * The IMS user story through the Huawei-signed SDK core: images of every kind from one instance, a system disk
 * image shared with 128 projects (the 129th refused), accept + launch, reject, refused shares, copies and export.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerWith, type TestWorld } from '../support/server.ts';
import { ImsClient, imsError, waitForJob } from '../support/ims-client.ts';
import { sdkError } from '../support/sdk.ts';
import { Ecs } from '../support/sdk.ts';
import { dataConfig, getBytes, launch, pattern, putBytes } from '../api/disks/support.ts';
import { createBucket, listAllObjects, putObject } from '../../src/cli/commands/transfer/client.ts';
import type { NewAccount } from '../../src/services/accounts.ts';

type Any = any;
let world: TestWorld<'alice' | 'bob' | 'carol'>;
let ims: Record<'alice' | 'bob' | 'carol', ImsClient>;
let tmp: string;

before(async () => {
  world = await startServerWith(['alice', 'bob', 'carol'], { postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
  ims = { alice: ImsClient.for(world.server.hostPort, world.accounts.alice), bob: ImsClient.for(world.server.hostPort, world.accounts.bob), carol: ImsClient.for(world.server.hostPort, world.accounts.carol) };
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-ims-'));
});
after(async () => {
  await world.server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs an IMS write and waits for its job; returns the job (SUCCESS expected). */
async function done(write: Promise<Any>, client = ims.alice): Promise<Any> {
  const { job_id: jobId } = await write;
  assert.match(jobId, /\S/);
  const job = await waitForJob(client, jobId);
  assert.equal(job.status, 'SUCCESS', `${job.job_type}: ${job.fail_reason}`);
  return job;
}

async function imageById(client: ImsClient, id: string, query: Record<string, string> = {}): Promise<Any> {
  return (await client.listImages({ id, ...query })).images[0];
}

test('IMS: system, data and full-ECS images of one instance; 128 shares; accept, reject; copies and export', async () => {
  const { alice } = world.accounts;
  const ecsA = world.ecs.alice;
  const src = await launch(ecsA, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20 })] });
  const systemBytes = pattern(5000, 21);
  const dataBytes = pattern(3000, 22);
  await putBytes(dataConfig(world.server, alice), src.system.diskId, 0, systemBytes);
  await putBytes(dataConfig(world.server, alice), src.data[0].diskId, 4096, dataBytes);

  // A system disk image, with the data disk as a data disk image in the same call.
  const sysJob = await done(ims.alice.createImage({ name: 'ims-system', instance_id: src.instanceId, data_images: [{ name: 'ims-data', volume_id: src.data[0].diskId }] }));
  const systemId = sysJob.entities.image_id;
  const system = await imageById(ims.alice, systemId);
  assert.deepEqual([system.__imagetype, system.__whole_image, system.virtual_env_type, system.visibility], ['private', 'false', 'FusionCompute', 'private']);
  const dataImage = (await ims.alice.listImages({ virtual_env_type: 'DataImage', __imagetype: 'private' })).images;
  assert.deepEqual(dataImage.map((i: Any) => i.name), ['ims-data']);
  const dataId = dataImage[0].id;
  // The data disk image is a sub job of the system disk image's job, which succeeded only once it had.
  assert.deepEqual(sysJob.entities.sub_jobs_result.map((j: Any) => [j.status, j.entities.image_id, j.entities.image_name]), [['SUCCESS', dataId, 'ims-data']]);

  // A full-ECS image holds both disks; launching it recreates both with their bytes.
  const wholeId = (await done(ims.alice.createWholeImage({ name: 'ims-whole', instance_id: src.instanceId }))).entities.image_id;
  assert.deepEqual((await ims.alice.listImages({ __whole_image: 'true' })).images.map((i: Any) => i.id), [wholeId]);
  const fromWhole = await launch(ecsA, { imageId: wholeId });
  assert.equal(fromWhole.data.length, 1);
  assert.deepEqual(await getBytes(dataConfig(world.server, alice), fromWhole.system.diskId, 0, systemBytes.length), systemBytes);
  assert.deepEqual(await getBytes(dataConfig(world.server, alice), fromWhole.data[0].diskId, 4096, dataBytes.length), dataBytes);

  // The system disk image holds only the system disk; the data disk image cannot launch.
  const fromSystem = await launch(ecsA, { imageId: systemId });
  assert.equal(fromSystem.data.length, 0);
  assert.deepEqual(await getBytes(dataConfig(world.server, alice), fromSystem.system.diskId, 0, systemBytes.length), systemBytes);
  assert.equal((await sdkError(() => launch(ecsA, { imageId: dataId }))).code, 'InvalidImage.DataDiskImage');

  // Shared with 128 projects in one batch; the 129th is refused at once.
  const projects: NewAccount[] = [world.accounts.bob, world.accounts.carol];
  for (let i = projects.length; i < 129; i++) projects.push(await world.server.account(`tenant${i}`));
  const first128 = projects.slice(0, 128).map((p) => p.accountId);
  await done(ims.alice.batchAddMembers({ images: [systemId], projects: first128 }));
  const members = (await ims.alice.listMembers(systemId)).members;
  assert.equal(members.length, 128);
  assert.ok(members.every((m: Any) => m.status === 'pending'));
  const refused = await imsError(() => ims.alice.batchAddMembers({ images: [systemId], projects: [projects[128].accountId] }));
  assert.equal(refused.httpStatusCode, 413);
  assert.match(refused.errorMsg, /at most 128/);

  // Pending: visible in the member's pending list, invisible to its launch. Bob accepts and launches; Carol rejects.
  assert.deepEqual((await ims.bob.listImages({ __imagetype: 'shared', member_status: 'pending' })).images.map((i: Any) => i.id), [systemId]);
  assert.deepEqual((await ims.bob.listImages({ __imagetype: 'shared' })).images, []);
  assert.equal((await sdkError(() => launch(world.ecs.bob, { imageId: systemId }))).code, 'InvalidImageId.NotFound');
  await done(ims.bob.batchUpdateMembers({ images: [systemId], project_id: world.accounts.bob.accountId, status: 'accepted' }), ims.bob);
  const bobs = await launch(world.ecs.bob, { imageId: systemId });
  assert.deepEqual(await getBytes(dataConfig(world.server, world.accounts.bob), bobs.system.diskId, 0, systemBytes.length), systemBytes);
  assert.equal((await imageById(ims.bob, systemId, { __imagetype: 'shared' })).visibility, 'shared');
  await done(ims.carol.batchUpdateMembers({ images: [systemId], project_id: world.accounts.carol.accountId, status: 'rejected' }), ims.carol);
  assert.equal((await sdkError(() => launch(world.ecs.carol, { imageId: systemId }))).code, 'InvalidImageId.NotFound');
  const byStatus = new Map((await ims.alice.listMembers(systemId)).members.map((m: Any) => [m.member_id, m.status]));
  assert.deepEqual([byStatus.get(world.accounts.bob.accountId), byStatus.get(world.accounts.carol.accountId)], ['accepted', 'rejected']);
  // Stop sharing takes effect at once.
  await done(ims.alice.batchDeleteMembers({ images: [systemId], projects: [world.accounts.bob.accountId] }));
  assert.equal((await sdkError(() => launch(world.ecs.bob, { imageId: systemId }))).code, 'InvalidImageId.NotFound');

  // Full-ECS and encrypted images are never shared.
  const wholeShare = await imsError(() => ims.alice.batchAddMembers({ images: [wholeId], projects: [world.accounts.bob.accountId] }));
  assert.deepEqual([wholeShare.httpStatusCode, wholeShare.errorCode], [403, 'InvalidImage.WholeImage']);
  const encryptedId = (await done(ims.alice.copyImageInRegion(systemId, { name: 'ims-encrypted', cmk_id: 'key-1' }))).entities.image_id;
  assert.equal((await imageById(ims.alice, encryptedId)).__system__cmkid, 'key-1');
  const encShare = await imsError(() => ims.alice.batchAddMembers({ images: [encryptedId], projects: [world.accounts.bob.accountId] }));
  assert.deepEqual([encShare.httpStatusCode, encShare.errorCode], [403, 'InvalidImage.EncryptedUnshareable']);

  // Across regions: the system disk image goes, full-ECS and encrypted images do not.
  const copyJob = await done(ims.alice.copyImageCrossRegion(systemId, { region: 'cn-shanghai', name: 'ims-in-shanghai', project_name: 'cn-shanghai' }));
  const copy = (await ecsA.describeImages(new Ecs.DescribeImagesRequest({ regionId: 'cn-shanghai', imageId: copyJob.entities.image_id }))).body.images.image[0];
  assert.deepEqual([copy.imageName, copy.status], ['ims-in-shanghai', 'Available']);
  assert.equal((await imsError(() => ims.alice.copyImageCrossRegion(wholeId, { region: 'cn-shanghai', name: 'no' }))).errorCode, 'InvalidImage.WholeImage');
  assert.equal((await imsError(() => ims.alice.copyImageCrossRegion(encryptedId, { region: 'cn-shanghai', name: 'no' }))).errorCode, 'InvalidImage.EncryptedCrossRegion');

  // Export to a bucket under the exact object name; a full-ECS image cannot be exported.
  const cfg = dataConfig(world.server, alice);
  await createBucket(cfg, 'alice-exports');
  await done(ims.alice.exportImage(systemId, { bucket_url: 'alice-exports:system.qcow2', file_format: 'qcow2' }));
  const objects = await listAllObjects(cfg, 'alice-exports');
  assert.deepEqual(objects.map((o) => o.Key), ['system.qcow2']);
  const refusedExport = await imsError(() => ims.alice.exportImage(wholeId, { bucket_url: 'alice-exports:whole.qcow2', file_format: 'qcow2' }));
  assert.deepEqual([refusedExport.httpStatusCode, refusedExport.errorCode], [403, 'InvalidImage.WholeImage']);

  // A data disk image from a file in a bucket (bucket:object).
  const raw = path.join(tmp, 'data.raw');
  fs.writeFileSync(raw, Buffer.concat([pattern(4096, 23), Buffer.alloc(1024 * 1024 - 4096)]));
  await putObject(cfg, 'alice-exports', 'data.raw', raw);
  const fileDataId = (await done(ims.alice.createDataImage({ name: 'ims-data-file', image_url: 'alice-exports:data.raw', min_disk: 40 }))).entities.image_id;
  assert.equal((await imageById(ims.alice, fileDataId)).virtual_env_type, 'DataImage');
  assert.equal((await sdkError(() => launch(ecsA, { imageId: fileDataId }))).code, 'InvalidImage.DataDiskImage');

  // Quick import of a RAW file as a system disk image, its platform read from os_version.
  const quickId = (await done(ims.alice.importImageQuick({ name: 'ims-quick', image_url: 'alice-exports:data.raw', os_version: 'Ubuntu 22.04 server 64bit', min_disk: 40 }))).entities.image_id;
  const quick = await imageById(ims.alice, quickId);
  assert.deepEqual([quick.__platform, quick.virtual_env_type, quick.status], ['Ubuntu', 'FusionCompute', 'active']);

  // Glance's member routes at the IMS endpoint: the same members.
  const glanceMember = await ims.alice.send({ method: 'POST', url: '/v2/images/{image_id}/members', pathParams: { image_id: quickId }, data: { member: world.accounts.bob.accountId } });
  assert.equal(glanceMember.status, 'pending');
  await ims.bob.send({ method: 'PUT', url: '/v2/images/{image_id}/members/{member_id}', pathParams: { image_id: quickId, member_id: world.accounts.bob.accountId }, data: { status: 'accepted' } });
  assert.equal((await ims.alice.listMembers(quickId)).members[0].status, 'accepted');
  await launch(world.ecs.bob, { imageId: quickId });
});
