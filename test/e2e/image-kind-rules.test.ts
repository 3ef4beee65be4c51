/**
 * Contract of the rule table (domain/image-kinds.ts): for every image kind × operation, the operation is
 * refused with the kind's error exactly when the table forbids it, through ECS (Alibaba SDK) and IMS (Huawei
 * SDK core) alike; and encrypted IMS images are never shared nor copied across regions.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestWorld } from '../support/server.ts';
import { ImsClient } from '../support/ims-client.ts';
import { Ecs, popClient } from '../support/sdk.ts';
import { PUBLIC_X64, dataConfig, getBytes, imageFromSnapshot, launch, putBytes } from '../api/disks/support.ts';
import { createBucket } from '../../src/cli/commands/transfer/client.ts';
import { IMAGE_KIND_RULES, IMAGE_KINDS, IMAGE_OPERATIONS, type ImageKind, type ImageOperation } from '../../src/domain/image-kinds.ts';

type Any = any;
let world: TestWorld<'alice' | 'bob'>;
let ims: ImsClient;
let snapshotId: string;
let target: string;
let copies = 0;
const copyName = (prefix: string) => `${prefix}-${++copies}`;

const KIND_ERROR: Record<ImageKind, string> = { system: 'InvalidImage.NotDataDiskImage', data: 'InvalidImage.DataDiskImage', whole: 'InvalidImage.WholeImage' };

before(async () => {
  world = await startServerWith(['alice', 'bob'], { postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
  ims = ImsClient.for(world.server.hostPort, world.accounts.alice);
  const src = await launch(world.ecs.alice);
  snapshotId = (await world.ecs.alice.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: src.system.diskId }))).body.snapshotId;
  target = (await launch(world.ecs.alice)).instanceId;
  await world.ecs.alice.stopInstance(new Ecs.StopInstanceRequest({ instanceId: target }));
  await createBucket(dataConfig(world.server, world.accounts.alice), 'rules-bucket');
});
after(() => world.server.stop());

/** The error code an operation fails with, or 'ok'. */
async function outcome(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    const err = e as Any;
    return err.code ?? err.errorCode ?? String(err);
  }
}

const ecsOps: Partial<Record<ImageOperation, (imageId: string) => Promise<unknown>>> = {
  launch: (imageId) => launch(world.ecs.alice, { imageId }),
  replaceSystemDisk: (imageId) => world.ecs.alice.replaceSystemDisk(new Ecs.ReplaceSystemDiskRequest({ instanceId: target, imageId })),
  share: (imageId) => world.ecs.alice.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: 'cn-hangzhou', imageId, addAccount: [world.accounts.bob.accountId] })),
  export: (imageId) => world.ecs.alice.exportImage(new Ecs.ExportImageRequest({ regionId: 'cn-hangzhou', imageId, OSSBucket: 'rules-bucket' })),
  copy: (imageId) => world.ecs.alice.copyImage(new Ecs.CopyImageRequest({ regionId: 'cn-hangzhou', imageId, destinationRegionId: 'cn-hangzhou', destinationImageName: copyName('copy') })),
  crossRegionCopy: (imageId) => world.ecs.alice.copyImage(new Ecs.CopyImageRequest({ regionId: 'cn-hangzhou', imageId, destinationRegionId: 'cn-shanghai' })),
  // CreateDisk with ImageId (our extension, not in the typed SDK; pop-core sends any parameter).
  createDisk: (imageId) => popClient(world.server.endpoint, world.accounts.alice).request('CreateDisk', { RegionId: 'cn-hangzhou', ImageId: imageId }, { method: 'POST' }),
};
/** The data-disk mapping of RunInstances (DataDisk.N.ImageId is not in the typed SDK either). */
const runInstancesOps: Partial<Record<ImageOperation, (imageId: string) => Promise<unknown>>> = {
  createDisk: (imageId) => popClient(world.server.endpoint, world.accounts.alice).request('RunInstances', {
    RegionId: 'cn-hangzhou', ImageId: PUBLIC_X64, InstanceType: 'ecs.g7.large', 'DataDisk.1.ImageId': imageId,
  }, { method: 'POST' }),
};
const imsOps: Partial<Record<ImageOperation, (imageId: string) => Promise<unknown>>> = {
  share: (imageId) => ims.batchAddMembers({ images: [imageId], projects: [world.accounts.bob.accountId] }),
  export: (imageId) => ims.exportImage(imageId, { bucket_url: `rules-bucket:${imageId}.qcow2`, file_format: 'qcow2' }),
  copy: (imageId) => ims.copyImageInRegion(imageId, { name: copyName('imscopy') }),
  crossRegionCopy: (imageId) => ims.copyImageCrossRegion(imageId, { region: 'cn-shanghai', name: copyName('imsx') }),
};

for (const kind of IMAGE_KINDS) {
  for (const op of IMAGE_OPERATIONS) {
    const allowed = IMAGE_KIND_RULES[kind][op];
    for (const [api, ops] of [['ECS', ecsOps], ['ECS RunInstances DataDisk', runInstancesOps], ['IMS', imsOps]] as const) {
      const run = ops[op];
      if (!run) continue;
      test(`${kind} image × ${op} through ${api}: ${allowed ? 'allowed' : 'refused'}`, async () => {
        const imageId = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId, { image_kind: kind, share_family: 'ims' });
        const got = await outcome(() => run(imageId));
        if (allowed) assert.equal(got, 'ok');
        else assert.equal(got, KIND_ERROR[kind]);
      });
    }
  }
}

test('a disk made from a data disk image in RunInstances holds the image\'s bytes', async () => {
  const src = await launch(world.ecs.alice, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20 })] });
  const bytes = Buffer.from('data disk image content');
  await putBytes(dataConfig(world.server, world.accounts.alice), src.data[0].diskId, 8192, bytes);
  const snap = (await world.ecs.alice.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: src.data[0].diskId }))).body.snapshotId;
  const imageId = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snap, { image_kind: 'data', share_family: 'ims' });
  const res = await runInstancesOps.createDisk!(imageId) as Any;
  const instanceId = res.InstanceIdSets.InstanceIdSet[0];
  const disks = (await world.ecs.alice.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId }))).body.disks.disk;
  const data = disks.find((d: Any) => d.type === 'data');
  assert.deepEqual(await getBytes(dataConfig(world.server, world.accounts.alice), data.diskId, 8192, bytes.length), bytes);
});

test('an encrypted IMS image is never shared nor copied across regions; an Alibaba-style CMK image may be shared (Alibaba rule)', async () => {
  const encrypted = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId, { share_family: 'ims', encrypted: 1, kms_key_id: 'key-1' });
  assert.equal(await outcome(() => imsOps.share!(encrypted)), 'InvalidImage.EncryptedUnshareable');
  assert.equal(await outcome(() => ecsOps.share!(encrypted)), 'InvalidImage.EncryptedUnshareable');
  assert.equal(await outcome(() => imsOps.crossRegionCopy!(encrypted)), 'InvalidImage.EncryptedCrossRegion');
  const alibaba = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId, { encrypted: 1, kms_key_id: 'key-1' });
  assert.equal(await outcome(() => ecsOps.share!(alibaba)), 'ok');
});

test('share limits per family: 50 for an Alibaba-style image, 128 for an IMS one', async () => {
  const others: string[] = [];
  for (let i = 0; i < 51; i++) others.push((await world.server.account(`limit${i}`)).accountId);
  const alibaba = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId);
  const share = (imageId: string, ids: string[]) => world.ecs.alice.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: 'cn-hangzhou', imageId, addAccount: ids }));
  for (let i = 0; i < 50; i += 10) await share(alibaba, others.slice(i, i + 10));
  assert.equal(await outcome(() => share(alibaba, [others[50]])), 'QuotaExceed.ShareImageUser');
  const huawei = await imageFromSnapshot(world.server, world.accounts.alice.accountId, snapshotId, { share_family: 'ims' });
  for (let i = 0; i < 51; i += 10) await share(huawei, others.slice(i, i + 10));
  const members = (await ims.listMembers(huawei)).members;
  assert.equal(members.length, 51, 'past Alibaba\'s 50 (the 129th IMS tenant is refused in test/e2e/ims.test.ts)');
  assert.ok(members.every((m: Any) => m.status === 'accepted'), 'an ECS share is an accepted member');
});
