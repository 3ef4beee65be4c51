/**
 * The user story, end to end through the official SDK, on both deployments: the embedded one
 * (SQLite + local files) and the scale-out one (PostgreSQL + S3 chunk store; Ceph RGW when .ci/run started
 * it, s3rver otherwise):
 * alice imports a qcow2, creates an instance, writes a file to its disk, images it, copies it to cn-beijing,
 * shares it with bob, bob launches from it, alice unshares, bob can no longer launch, alice deletes, the
 * snapshot survives; an export of her image holds exactly the bytes she wrote.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from '../support/server.ts';
import { Ecs, ecsClient, sdkError } from '../support/sdk.ts';
import { postgresBaseUrl } from '../support/stores.ts';
import { cephEnv, startS3rver } from '../support/s3.ts';
import { clientConfig, makeDisk, sameContent, settledImage, settledTask } from './transfer-support.ts';
import { createBucket, getObject, putObject } from '../../src/cli/commands/transfer/client.ts';
import { getBytes, putBytes } from '../api/disks/support.ts';
import { needing, requires } from '../support/requires.ts';

const { test } = needing('qemu-img');

interface Deployment {
  name: string;
  skip?: string;
  start(): Promise<{ server: TestServer; stop(): Promise<void> }>;
}

const deployments: Deployment[] = [
  { name: 'embedded (SQLite + files)', async start() { const server = await startServer(); return { server, stop: () => server.stop() }; } },
  {
    name: 'scale-out (PostgreSQL + S3 chunks)',
    skip: requires('postgres'),
    async start() {
      const ceph = cephEnv();
      const s3rver = ceph ? undefined : await startS3rver();
      const env = {
        IMAGEHOUSE_S3_ENDPOINT: ceph?.endpoint ?? s3rver!.endpoint,
        IMAGEHOUSE_S3_ACCESS_KEY_ID: ceph?.accessKeyId ?? 'S3RVER',
        IMAGEHOUSE_S3_SECRET_ACCESS_KEY: ceph?.secretAccessKey ?? 'S3RVER',
        IMAGEHOUSE_S3_BUCKET: `ih-story-${crypto.randomBytes(4).toString('hex')}`,
      };
      const server = await startServer({ postgresBaseUrl: postgresBaseUrl(), env });
      assert.equal(server.app.store.dialect, 'postgres');
      assert.equal(server.app.services.dataPlane.store('cn-hangzhou').kind, 's3');
      return { server, async stop() { await server.stop(); await s3rver?.stop(); } };
    },
  },
];

for (const deployment of deployments) {
  test(`user story on the ${deployment.name} deployment`, { skip: deployment.skip }, async () => {
    const { server, stop } = await deployment.start();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-story-'));
    try {
      const alice = await server.account('alice');
      const bob = await server.account('bob');
      const a = ecsClient(server.hostPort, alice);
      const b = ecsClient(server.hostPort, bob);
      const aCfg = clientConfig(server.endpoint, alice);

      // alice imports a qcow2 through a bucket.
      const disk = makeDisk(dir, 'base', { virtualMiB: 24, dataMiB: 6, format: 'qcow2' });
      // On S3 deployments buckets are real S3 buckets, whose names are global: never reuse one.
      const bucket = `alice-story-${crypto.randomBytes(4).toString('hex')}`;
      await createBucket(aCfg, bucket);
      await putObject(aCfg, bucket, 'base.qcow2', disk.file);
      const imported = await a.importImage(new Ecs.ImportImageRequest({
        regionId: 'cn-hangzhou', imageName: 'story_base', platform: 'Ubuntu',
        diskDeviceMapping: [new Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: bucket, OSSObject: 'base.qcow2', format: 'QCOW2', diskImageSize: 1 })],
      }));
      assert.equal((await settledImage(a, imported.body.imageId)).status, 'Available');

      // She launches an instance from it and writes a file into its system disk.
      const run = await a.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-hangzhou', imageId: imported.body.imageId, instanceType: 'ecs.g7.large' }));
      const instanceId = run.body.instanceIdSets.instanceIdSet[0];
      const sysDisk = (await a.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId }))).body.disks.disk.find((d: any) => d.type === 'system');
      const file = crypto.randomBytes(300_000);
      const offset = 5 * 1024 * 1024 + 777;
      await putBytes(aCfg, sysDisk.diskId, offset, file);

      // She images the instance, and copies the image to cn-beijing.
      const made = await a.createImage(new Ecs.CreateImageRequest({ regionId: 'cn-hangzhou', instanceId, imageName: 'story_app' }));
      assert.equal((await settledImage(a, made.body.imageId)).status, 'Available');
      const copied = await a.copyImage(new Ecs.CopyImageRequest({ regionId: 'cn-hangzhou', imageId: made.body.imageId, destinationRegionId: 'cn-beijing', destinationImageName: 'story_app_bj' }));
      const copy = await settledImage(a, copied.body.imageId, 'cn-beijing');
      assert.equal(copy.status, 'Available');
      const copySnapshot = copy.diskDeviceMappings.diskDeviceMapping[0].snapshotId;

      // She shares the copy with bob, who launches from it in cn-beijing and finds her file.
      await a.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: 'cn-beijing', imageId: copied.body.imageId, addAccount: [bob.accountId] }));
      const bobRun = await b.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-beijing', imageId: copied.body.imageId, instanceType: 'ecs.g7.large' }));
      const bobInstance = bobRun.body.instanceIdSets.instanceIdSet[0];
      const bobDisk = (await b.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-beijing', instanceId: bobInstance }))).body.disks.disk.find((d: any) => d.type === 'system');
      const bCfg = clientConfig(server.endpoint, bob, 'cn-beijing');
      assert.ok((await getBytes(bCfg, bobDisk.diskId, offset, file.length)).equals(file), "bob's disk holds alice's file");
      const rawBase = fs.readFileSync(disk.raw);
      assert.ok((await getBytes(bCfg, bobDisk.diskId, 0, 4 * 1024 * 1024)).equals(rawBase.subarray(0, 4 * 1024 * 1024)), 'and the imported content');

      // alice unshares: bob can no longer launch, but his instance keeps running.
      await a.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: 'cn-beijing', imageId: copied.body.imageId, removeAccount: [bob.accountId] }));
      const refused = await sdkError(() => b.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-beijing', imageId: copied.body.imageId, instanceType: 'ecs.g7.large' })));
      assert.equal(refused.code, 'InvalidImageId.NotFound');
      const bobInst = (await b.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-beijing', instanceIds: JSON.stringify([bobInstance]) }))).body.instances.instance[0];
      assert.equal(bobInst.status, 'Running');

      // alice deletes the copy (Force: bob's instance was made from it); its snapshot survives, no longer used by an image.
      const inUse = await sdkError(() => a.deleteImage(new Ecs.DeleteImageRequest({ regionId: 'cn-beijing', imageId: copied.body.imageId })));
      assert.equal(inUse.code, 'ImageUsingByInstance');
      await a.deleteImage(new Ecs.DeleteImageRequest({ regionId: 'cn-beijing', imageId: copied.body.imageId, force: true }));
      const snaps = await a.describeSnapshots(new Ecs.DescribeSnapshotsRequest({ regionId: 'cn-beijing', snapshotIds: JSON.stringify([copySnapshot]) }));
      assert.equal(snaps.body.snapshots.snapshot.length, 1);
      assert.equal(snaps.body.snapshots.snapshot[0].usage, 'none');
      // Bob's disk still reads, but it can no longer be re-initialised from the deleted image.
      await b.stopInstance(new Ecs.StopInstanceRequest({ instanceId: bobInstance }));
      const reinit = await sdkError(() => b.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: bobDisk.diskId })));
      assert.equal(reinit.code, 'SharedImageDeleted');
      assert.ok((await getBytes(bCfg, bobDisk.diskId, offset, file.length)).equals(file));

      // An export of alice's image holds exactly the imported bytes with her file written in.
      const exp = await a.exportImage(new Ecs.ExportImageRequest({ regionId: 'cn-hangzhou', imageId: made.body.imageId, OSSBucket: bucket, OSSPrefix: 'story', imageFormat: 'qcow2' }));
      const task = await settledTask(a, exp.body.taskId);
      assert.equal(task.taskStatus, 'Finished');
      const key = task.operationProgressSet.operationProgress[0].relatedItemSet.relatedItem.find((r: any) => r.name === 'OSSObject').value;
      const out = path.join(dir, 'export.qcow2');
      await getObject(aCfg, bucket, key, out);
      const expected = path.join(dir, 'expected.raw');
      const patched = Buffer.from(rawBase);
      file.copy(patched, offset);
      fs.writeFileSync(expected, patched);
      // The system disk (and so the image) is larger than the imported file: the rest reads as zeros.
      fs.truncateSync(expected, Number(sysDisk.size) * 1024 ** 3);
      assert.ok(sameContent(out, 'qcow2', expected, 'raw'), 'the export equals the imported disk plus the written file');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await stop();
    }
  });
}
