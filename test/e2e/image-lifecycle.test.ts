import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestServer } from '../support/server.ts';
import { Ecs, sdkError } from '../support/sdk.ts';
import { sampleDisk, seedSnapshot } from '../support/snapshots.ts';
import { settledImage } from './transfer-support.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { collectGarbage } from '../../src/blobs/gc.ts';
import { createBucket } from '../../src/cli/commands/transfer/client.ts';
import { waitFor } from '../support/wait.ts';

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let aliceClient: any;
let bobClient: any;
const R = 'cn-hangzhou';

before(async () => {
  ({ server, accounts: { alice, bob }, ecs: { alice: aliceClient, bob: bobClient } } = await startServerWith(['alice', 'bob']));
});
after(() => server.stop());

async function createFromSnapshot(name: string, content = sampleDisk(9)) {
  const { snapshotId, manifest } = await seedSnapshot(server, alice.accountId, R, content);
  const res = await aliceClient.createImage(new Ecs.CreateImageRequest({ regionId: R, snapshotId, imageName: name, platform: 'Ubuntu', architecture: 'x86_64' }));
  return { imageId: res.body.imageId as string, snapshotId, manifest };
}

test('alice makes an image from a snapshot: Creating → Available, sharing the snapshot (no bytes copied)', async () => {
  const chunksBefore = await server.app.services.db.selectFrom('chunks').select('ref').execute();
  const { imageId, snapshotId } = await createFromSnapshot('web_base');
  assert.match(imageId, /^m-bp1[0-9a-z]{17}$/);
  const img = await settledImage(aliceClient, imageId, R);
  assert.equal(img.status, 'Available');
  assert.equal(img.imageOwnerAlias, 'self');
  assert.equal(img.platform, 'Ubuntu');
  assert.equal(img.diskDeviceMappings.diskDeviceMapping[0].snapshotId, snapshotId);
  assert.equal(img.progress, '100%');
  const chunksAfter = await server.app.services.db.selectFrom('chunks').select('ref').execute();
  assert.ok(chunksAfter.length > chunksBefore.length, 'the seeded snapshot stored chunks');
  const bySnap = await aliceClient.describeImages(new Ecs.DescribeImagesRequest({ regionId: R, snapshotId }));
  assert.deepEqual(bySnap.body.images.image.map((i: any) => i.imageId), [imageId]);
});

test('CreateImage validation: names, missing source, foreign snapshots, duplicates, idempotency', async () => {
  const { snapshotId } = await seedSnapshot(server, alice.accountId, R, sampleDisk(1, 7));
  let e = await sdkError(() => aliceClient.createImage(new Ecs.CreateImageRequest({ regionId: R, imageName: 'x_no_source' })));
  assert.equal(e.code, 'MissingParameter');
  e = await sdkError(() => aliceClient.createImage(new Ecs.CreateImageRequest({ regionId: R, snapshotId, imageName: 'aliyun_reserved' })));
  assert.equal(e.code, 'InvalidImageName.Malformed');
  e = await sdkError(() => bobClient.createImage(new Ecs.CreateImageRequest({ regionId: R, snapshotId, imageName: 'bobs_try' })));
  assert.equal(e.code, 'InvalidSnapshotId.NotFound');
  assert.equal(e.statusCode, 404);
  const first = await aliceClient.createImage(new Ecs.CreateImageRequest({ regionId: R, snapshotId, imageName: 'idem_image', clientToken: 'tok-1' }));
  const again = await aliceClient.createImage(new Ecs.CreateImageRequest({ regionId: R, snapshotId, imageName: 'idem_image', clientToken: 'tok-1' }));
  assert.equal(again.body.imageId, first.body.imageId, 'same ClientToken, same parameters: the same image');
  e = await sdkError(() => aliceClient.createImage(new Ecs.CreateImageRequest({ regionId: R, snapshotId, imageName: 'other_name', clientToken: 'tok-1' })));
  assert.equal(e.code, 'IdempotenceParamNotMatch');
  e = await sdkError(() => aliceClient.createImage(new Ecs.CreateImageRequest({ regionId: R, snapshotId, imageName: 'idem_image' })));
  assert.equal(e.code, 'InvalidImageName.Duplicated');
  e = await sdkError(() => aliceClient.createImage(new Ecs.CreateImageRequest({ regionId: R, snapshotId, imageName: 'dry_one', dryRun: true })));
  assert.equal(e.code, 'DryRunOperation');
});

test('alice copies to cn-beijing: a new independent image whose chunks now live in the destination store', async () => {
  const { imageId, manifest } = await createFromSnapshot('copy_src', sampleDisk(13, 3));
  await settledImage(aliceClient, imageId, R);
  const res = await aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId, destinationRegionId: 'cn-beijing', destinationImageName: 'copy_dst' }));
  const copyId = res.body.imageId;
  assert.match(copyId, /^m-2ze/, 'the copy has a cn-beijing ID');
  const copy = await settledImage(aliceClient, copyId, 'cn-beijing');
  assert.equal(copy.status, 'Available');
  assert.equal(copy.isCopied, true);
  const snapId = copy.diskDeviceMappings.diskDeviceMapping[0].snapshotId;
  assert.match(snapId, /^s-2ze/);
  // Every chunk of the source is now stored in cn-beijing, byte for byte.
  const store = server.app.services.dataPlane.store('cn-beijing');
  for (const e of manifest.entries) assert.ok(await store.has(e.ref), `chunk ${e.ref} present in cn-beijing`);
  // Independent: deleting the source leaves the copy intact and Available.
  await aliceClient.deleteImage(new Ecs.DeleteImageRequest({ regionId: R, imageId }));
  const still = await settledImage(aliceClient, copyId, 'cn-beijing');
  assert.equal(still.status, 'Available');
  const e = await sdkError(() => aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId: 'm-bp1doesnotexist00000', destinationRegionId: 'cn-beijing' })));
  assert.equal(e.code, 'InvalidImageId.NotFound');
  const bad = await sdkError(() => aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId: copyId, destinationRegionId: 'mars-1' })));
  assert.equal(bad.code, 'DestinationRegion.NotFound');
  const kms = await sdkError(() => aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: 'cn-beijing', imageId: copyId, KMSKeyId: 'key-1', destinationImageName: 'enc_copy' })));
  assert.equal(kms.code, 'InvalidParameter.EncryptedIllegal');
});

test('a re-copy of an image whose chunks already exist in the destination moves no bytes', async () => {
  const content = sampleDisk(9, 11);
  const { imageId } = await createFromSnapshot('recopy_src', content);
  await settledImage(aliceClient, imageId, R);
  const first = await aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId, destinationRegionId: 'cn-shanghai', destinationImageName: 'recopy_1' }));
  await settledImage(aliceClient, first.body.imageId, 'cn-shanghai');
  const store = server.app.services.dataPlane.store('cn-shanghai');
  let puts = 0;
  const put = store.put.bind(store);
  store.put = async (ref, data) => { puts++; return put(ref, data); };
  try {
    const second = await aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId, destinationRegionId: 'cn-shanghai', destinationImageName: 'recopy_2' }));
    assert.equal((await settledImage(aliceClient, second.body.imageId, 'cn-shanghai')).status, 'Available');
  } finally {
    store.put = put;
  }
  assert.equal(puts, 0, 'every chunk already existed in cn-shanghai');
});

test('CancelCopyImage leaves nothing behind: no image, and the copied chunks are garbage', async () => {
  const { imageId } = await createFromSnapshot('cancel_src', sampleDisk(17, 5));
  await settledImage(aliceClient, imageId, R);
  // Hold the worker's copy at the start by occupying the job: enqueue, then cancel before it can finish.
  const res = await aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId, destinationRegionId: 'eu-central-1', destinationImageName: 'cancel_dst' }));
  const copyId = res.body.imageId;
  await aliceClient.cancelCopyImage(new Ecs.CancelCopyImageRequest({ regionId: 'eu-central-1', imageId: copyId })).catch((e: any) => {
    // The copy may have finished first on a fast machine; then cancelling is refused with the real error.
    assert.equal(e.code, 'IncorrectImageStatus');
  });
  const db = server.app.services.db;
  const job = await jobEnd(copyId);
  const left = await db.selectFrom('images').select('status').where('id', '=', copyId).executeTakeFirst();
  if (job.state === 'cancelled') {
    assert.equal(left, undefined, 'the cancelled copy is gone');
    assert.equal((await db.selectFrom('snapshots').select('id').where('region', '=', 'eu-central-1').where('owner_id', '=', alice.accountId).execute()).length, 0);
    const gc = await collectGarbage({ index: server.app.services.dataPlane.index, store: server.app.services.dataPlane.store('eu-central-1'), region: 'eu-central-1', graceMs: 0 });
    const leftover = await db.selectFrom('chunks').select('ref').where('region', '=', 'eu-central-1').execute();
    assert.equal(leftover.length, 0, `no chunk row stays in eu-central-1 (gc deleted ${gc.deleted})`);
    let stored = 0;
    for await (const _ of server.app.services.dataPlane.store('eu-central-1').list()) stored++;
    assert.equal(stored, 0, 'no chunk bytes stay in eu-central-1');
  } else {
    assert.equal(left?.status, 'Available');
  }
  const e = await sdkError(() => aliceClient.cancelCopyImage(new Ecs.CancelCopyImageRequest({ regionId: R, imageId })));
  assert.equal(e.code, 'ImageCreatedNotFromCopy');
});

function jobEnd(resourceId: string) {
  const db = server.app.services.db;
  return waitFor(async () => {
    const job = await db.selectFrom('jobs').selectAll().where('resource_id', '=', resourceId).executeTakeFirst();
    return job && !['queued', 'running'].includes(job.state) ? job : undefined;
  }, { what: `the job of ${resourceId} to end` });
}

test('sharing: bob sees and may use the image only while shared, and can change nothing', async () => {
  const { imageId } = await createFromSnapshot('shared_img');
  await settledImage(aliceClient, imageId, R);
  const bobSees = async () => (await bobClient.describeImages(new Ecs.DescribeImagesRequest({ regionId: R, imageOwnerAlias: 'others' }))).body.images.image.map((i: any) => i.imageId);
  assert.deepEqual(await bobSees(), []);
  await aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, addAccount: [bob.accountId] }));
  assert.deepEqual(await bobSees(), [imageId]);
  const mine = (await aliceClient.describeImages(new Ecs.DescribeImagesRequest({ regionId: R, imageId }))).body.images.image[0];
  assert.equal(mine.isSelfShared, 'true');
  const perms = await aliceClient.describeImageSharePermission(new Ecs.DescribeImageSharePermissionRequest({ regionId: R, imageId }));
  assert.deepEqual(perms.body.accounts.account.map((a: any) => a.aliyunId), [bob.accountId]);
  assert.equal(perms.body.totalCount, 1);
  // Other regions never show it.
  assert.equal((await bobClient.describeImages(new Ecs.DescribeImagesRequest({ regionId: 'cn-beijing', imageOwnerAlias: 'others' }))).body.totalCount, 0);
  // Bob cannot modify, share, delete, or copy it to another region; he may copy it within the region.
  for (const call of [
    () => bobClient.modifyImageAttribute(new Ecs.ModifyImageAttributeRequest({ regionId: R, imageId, imageName: 'bobs_now' })),
    () => bobClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, addAccount: [alice.accountId] })),
    () => bobClient.deleteImage(new Ecs.DeleteImageRequest({ regionId: R, imageId })),
    () => bobClient.describeImageSharePermission(new Ecs.DescribeImageSharePermissionRequest({ regionId: R, imageId })),
  ]) assert.equal((await sdkError(call)).code, 'InvalidImageId.NotFound');
  assert.equal((await sdkError(() => bobClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId, destinationRegionId: 'cn-beijing' })))).code, 'OperationDenied.SameRegionOnly');
  const bobCopy = await bobClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId, destinationImageName: 'bobs_copy' }));
  assert.equal((await settledImage(bobClient, bobCopy.body.imageId, R)).imageOwnerAlias, 'self');
  // Alice must unshare before deleting or deprecating.
  assert.equal((await sdkError(() => aliceClient.deleteImage(new Ecs.DeleteImageRequest({ regionId: R, imageId })))).code, 'ImageUseShared');
  assert.equal((await sdkError(() => aliceClient.modifyImageAttribute(new Ecs.ModifyImageAttributeRequest({ regionId: R, imageId, status: 'Deprecated' })))).code, 'ImageUseShared');
  // Sharing errors.
  assert.equal((await sdkError(() => aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, addAccount: [alice.accountId] })))).code, 'InvalidAccount.Forbbiden');
  assert.equal((await sdkError(() => aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, addAccount: ['1999999999999999'] })))).code, 'InvalidAccount.NotFound');
  await aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, removeAccount: [bob.accountId] }));
  assert.deepEqual(await bobSees(), [], 'unsharing takes effect at once');
  await aliceClient.modifyImageAttribute(new Ecs.ModifyImageAttributeRequest({ regionId: R, imageId, status: 'Deprecated' }));
  assert.equal((await sdkError(() => aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, addAccount: [bob.accountId] })))).code, 'OperationDenied.InvalidImageStatus');
});

test('encrypted images: service-key copies cannot be shared, CMK copies can, and neither can be published', async () => {
  const { imageId } = await createFromSnapshot('enc_src', sampleDisk(1, 13));
  await settledImage(aliceClient, imageId, R);
  const serviceKey = await aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId, destinationImageName: 'enc_service', encrypted: true }));
  const cmk = await aliceClient.copyImage(new Ecs.CopyImageRequest({ regionId: R, imageId, destinationImageName: 'enc_cmk', encrypted: true, KMSKeyId: 'key-0001' }));
  await settledImage(aliceClient, serviceKey.body.imageId, R);
  await settledImage(aliceClient, cmk.body.imageId, R);
  const share = (id: string, extra: Record<string, unknown> = {}) => aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId: id, addAccount: [bob.accountId], ...extra }));
  assert.equal((await sdkError(() => share(serviceKey.body.imageId))).code, 'InvalidOperation.ServiceKeyEncryptedImageUnsupported');
  await share(cmk.body.imageId);
  assert.equal((await sdkError(() => aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId: cmk.body.imageId, isPublic: true })))).code, 'InvalidParameter.IsPublic');
  await createBucket({ endpoint: server.endpoint, region: R, accessKeyId: alice.accessKeyId, accessKeySecret: alice.accessKeySecret }, 'alice-enc');
  const exported = await sdkError(() => aliceClient.exportImage(new Ecs.ExportImageRequest({ regionId: R, imageId: cmk.body.imageId, OSSBucket: 'alice-enc' })));
  assert.equal(exported.code, 'ImageNotSupported', 'encrypted images cannot be exported');
});

test('share quota: at most 50 accounts per image, 10 per call', async () => {
  const { imageId } = await createFromSnapshot('quota_img', sampleDisk(1, 9));
  await settledImage(aliceClient, imageId, R);
  const accounts: string[] = [];
  for (let i = 0; i < 51; i++) accounts.push((await server.account(`sharee${i}`)).accountId);
  const eleven = await sdkError(() => aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, addAccount: accounts.slice(0, 11) })));
  assert.equal(eleven.code, 'InvalidParameter', 'AddAccount.11 is refused, not dropped');
  for (let i = 0; i < 50; i += 10) {
    await aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, addAccount: accounts.slice(i, i + 10) }));
  }
  const perms = await aliceClient.describeImageSharePermission(new Ecs.DescribeImageSharePermissionRequest({ regionId: R, imageId, pageSize: 100 }));
  assert.equal(perms.body.totalCount, 50);
  const e = await sdkError(() => aliceClient.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: R, imageId, addAccount: [accounts[50]] })));
  assert.equal(e.code, 'QuotaExceed.ShareImageUser');
  assert.equal(e.statusCode, 403);
});

test('DeleteImage keeps the snapshots, whose Usage changes, and their chunks stay referenced', async () => {
  const { imageId, snapshotId } = await createFromSnapshot('to_delete');
  await settledImage(aliceClient, imageId, R);
  const db = server.app.services.db;
  const snap = await db.selectFrom('snapshots').selectAll().where('id', '=', snapshotId).executeTakeFirstOrThrow();
  await aliceClient.deleteImage(new Ecs.DeleteImageRequest({ regionId: R, imageId }));
  const gone = await aliceClient.describeImages(new Ecs.DescribeImagesRequest({ regionId: R, imageId, status: 'ALL' }));
  assert.equal(gone.body.totalCount, 0);
  assert.ok(await db.selectFrom('snapshots').select('id').where('id', '=', snapshotId).executeTakeFirst(), 'the snapshot survives');
  const { snapshotUsage } = await import('../../src/services/snapshots/repo.ts');
  assert.equal((await snapshotUsage({ db }, [snapshotId])).get(snapshotId), 'none');
  const m = await server.app.services.dataPlane.manifests.load(snap.manifest_id);
  assert.ok(m, 'the manifest is still held by the snapshot');
  const e = await sdkError(() => aliceClient.deleteImage(new Ecs.DeleteImageRequest({ regionId: R, imageId: 'ubuntu_22_04_x64_20G_alibase_20240530.vhd' })));
  assert.equal(e.code, 'InvalidImageId.NotFound');
});

test('DescribeImageSupportInstanceTypes matches architectures', async () => {
  const res = await aliceClient.describeImageSupportInstanceTypes(new Ecs.DescribeImageSupportInstanceTypesRequest({ regionId: R, imageId: 'ubuntu_22_04_x64_20G_alibase_20240530.vhd' }));
  const types = res.body.instanceTypes.instanceType.map((t: any) => t.instanceTypeId);
  assert.ok(types.includes('ecs.g7.large'));
  assert.ok(!types.some((t: string) => /g8y|c8y|r8y/.test(t)), 'no ARM types for an x86_64 image');
});
