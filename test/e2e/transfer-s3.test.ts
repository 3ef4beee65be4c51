/**
 * Buckets on S3: with an S3 endpoint configured, every bucket is a real S3 bucket of the same name, so a user
 * can fill it with any S3 tool, import from it, export to it and read the exports back with the same tool.
 * Runs on s3rver (and on Ceph RGW when IMAGEHOUSE_TEST_S3_ENDPOINT is set).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startServer, type TestServer } from '../support/server.ts';
import { Ecs, ecsClient } from '../support/sdk.ts';
import { cephEnv, emptyAndDeleteBucket, startS3rver } from '../support/s3.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { ApiCallError, dataRequest } from '../../src/cli/api.ts';
import { SPARSE_CONTENT_TYPE } from '../../src/formats/sparse-body.ts';
import { createBucket, getObject, listAllObjects, putObject } from '../../src/cli/commands/transfer/client.ts';
import { REGION, clientConfig, importRequest, makeDisk, sameContent, settledImage, settledTask, type DiskFixture } from './transfer-support.ts';
import { needing, requires } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let s3rver: { endpoint: string; stop(): Promise<void> } | undefined;
let s3: S3Client;
let server: TestServer;
let alice: NewAccount;
let dir: string;
let disk: DiskFixture;
const suffix = crypto.randomBytes(3).toString('hex');
const chunkBucket = `ih-chunks-${suffix}`;
const userBucket = `alice-s3-${suffix}`;
const sparseBucket = `alice-sparse-${suffix}`;

before(async () => {
  const ceph = cephEnv();
  if (!ceph) s3rver = await startS3rver();
  const creds = ceph ?? { endpoint: s3rver!.endpoint, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  s3 = new S3Client({
    endpoint: creds.endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  server = await startServer({
    env: {
      IMAGEHOUSE_S3_ENDPOINT: creds.endpoint, IMAGEHOUSE_S3_ACCESS_KEY_ID: creds.accessKeyId,
      IMAGEHOUSE_S3_SECRET_ACCESS_KEY: creds.secretAccessKey, IMAGEHOUSE_S3_BUCKET: chunkBucket,
    },
  });
  alice = await server.account('alice');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-transfer-s3-'));
  disk = makeDisk(dir, 'disk', { virtualMiB: 40, dataMiB: 20, format: 'vmdk' });
});
after(async () => {
  await server?.stop();
  for (const b of [userBucket, sparseBucket, chunkBucket]) await emptyAndDeleteBucket(s3, b).catch(() => {});
  s3?.destroy();
  await s3rver?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an imagehouse bucket is an S3 bucket: filled with an S3 client, imported, exported and read back with it', async () => {
  const cfg = clientConfig(server.endpoint, alice);
  await createBucket(cfg, userBucket);
  await s3.send(new HeadBucketCommand({ Bucket: userBucket }));
  await s3.send(new PutObjectCommand({ Bucket: userBucket, Key: 'uploads/disk.vmdk', Body: fs.readFileSync(disk.file) }));

  const client = ecsClient(server.hostPort, alice);
  const res = await client.importImage(importRequest(userBucket, [{ object: 'uploads/disk.vmdk', format: 'VMDK' }], { imageName: 's3-image' }));
  const image = await settledImage(client, res.body.imageId);
  assert.equal(image.status, 'Available', JSON.stringify(await settledTask(client, res.body.taskId)));

  const exp = await client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId: res.body.imageId, OSSBucket: userBucket, imageFormat: 'qcow2' }));
  assert.equal((await settledTask(client, exp.body.taskId)).taskStatus, 'Finished');
  const key = `${res.body.imageId}_${exp.body.taskId}.qcow2`;
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: userBucket }));
  assert.deepEqual((listed.Contents ?? []).map((o) => o.Key).sort(), [key, 'uploads/disk.vmdk']);

  const viaS3 = path.join(dir, 'via-s3.qcow2');
  const got = await s3.send(new GetObjectCommand({ Bucket: userBucket, Key: key }));
  fs.writeFileSync(viaS3, await got.Body!.transformToByteArray());
  assert.ok(sameContent(viaS3, 'qcow2', disk.raw, 'raw'));
  const viaApi = path.join(dir, 'via-api.qcow2');
  await getObject(cfg, userBucket, key, viaApi);
  assert.ok(fs.readFileSync(viaApi).equals(fs.readFileSync(viaS3)));
  assert.deepEqual((await listAllObjects(cfg, userBucket)).map((o) => o.Key).sort(), [key, 'uploads/disk.vmdk']);
});

test('the chunk store\'s own S3 bucket can never become a user bucket', async () => {
  const err = await createBucket(clientConfig(server.endpoint, alice), chunkBucket).then(() => undefined, (e) => e);
  assert.ok(err instanceof ApiCallError);
  assert.equal(err.code, 'BucketAlreadyExists');
  assert.equal(err.status, 409);
});

test('bucket put of a file with holes (a sparse body) lands on S3 as the file\'s plain bytes', { skip: requires('xfs_io') }, async () => {
  const cfg = clientConfig(server.endpoint, alice);
  await createBucket(cfg, sparseBucket);
  const file = path.join(dir, 'sparse.raw');
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, (24 << 20) + 5);
  const data = crypto.randomBytes((5 << 20) + 3);
  fs.writeSync(fd, data, 0, data.length, (8 << 20) + 4096);
  fs.closeSync(fd);
  assert.equal((await putObject(cfg, sparseBucket, 'sparse.raw', file)).Size, fs.statSync(file).size);
  const got = await s3.send(new GetObjectCommand({ Bucket: sparseBucket, Key: 'sparse.raw' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(fs.readFileSync(file)));
  // Downloaded as a sparse body: S3's zeros are left out on the way and become holes again.
  const sparse = await dataRequest(cfg, 'GET', `/buckets/${sparseBucket}/object`, { Key: 'sparse.raw' }, { headers: { accept: SPARSE_CONTENT_TYPE } });
  assert.equal(sparse.headers.get('content-type'), SPARSE_CONTENT_TYPE);
  assert.ok((await sparse.arrayBuffer()).byteLength < data.length + (1 << 20), 'the zeros stay on the server');
  const back = path.join(dir, 'sparse-back.raw');
  await getObject(cfg, sparseBucket, 'sparse.raw', back);
  assert.ok(fs.readFileSync(back).equals(fs.readFileSync(file)));
  assert.ok(fs.statSync(back).blocks * 512 <= data.length + (1 << 20), `download allocates ${fs.statSync(back).blocks * 512} bytes`);
});
