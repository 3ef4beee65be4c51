/**
 * S3 endpoints for chunk-store tests: s3rver in-process (always), and a real Ceph RGW when
 * IMAGEHOUSE_TEST_S3_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY) is set — then an unreachable RGW fails the
 * test instead of skipping it. scripts/start-ceph.sh prints those variables.
 * Each open() gets its own bucket (and, for s3rver, its own server and directory).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { S3ChunkStore, type S3ChunkStoreConfig } from '../../src/blobs/s3-store.ts';
import { requires } from '../support/requires.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: { address: string; port: number; directory: string; silent: boolean }) => S3rverInstance;

export interface TestS3 {
  config: S3ChunkStoreConfig;
  store: S3ChunkStore;
  /** Empties and removes the bucket, closes the client, stops s3rver if it was ours. */
  dispose(): Promise<void>;
}

export interface S3Backend {
  name: 's3rver' | 'ceph';
  skip?: string;
  open(opts?: { prefix?: string }): Promise<TestS3>;
}

/** Starts s3rver on a random 127.0.0.1 port with its data in a fresh temp dir. */
export async function startS3rver(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
  const addr = await server.run();
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    async stop() {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function cephEnv(): { endpoint: string; accessKeyId: string; secretAccessKey: string } | undefined {
  const endpoint = process.env.IMAGEHOUSE_TEST_S3_ENDPOINT;
  if (!endpoint) return undefined;
  return {
    endpoint,
    accessKeyId: process.env.IMAGEHOUSE_TEST_S3_ACCESS_KEY ?? 'testkey',
    secretAccessKey: process.env.IMAGEHOUSE_TEST_S3_SECRET_KEY ?? 'testsecret',
  };
}

async function openBucket(
  creds: { endpoint: string; accessKeyId: string; secretAccessKey: string },
  prefix: string | undefined,
  stop: () => Promise<void>,
): Promise<TestS3> {
  const config: S3ChunkStoreConfig = {
    ...creds,
    region: 'us-east-1',
    bucket: 'ih-test-' + crypto.randomBytes(5).toString('hex'),
    prefix,
  };
  const store = new S3ChunkStore(config);
  try {
    await store.ensureBucket();
  } catch (err) {
    await store.close();
    await stop();
    throw err;
  }
  return {
    config,
    store,
    async dispose() {
      try {
        await emptyAndDeleteBucket(store.client, config.bucket);
      } finally {
        await store.close();
        await stop();
      }
    },
  };
}

/** One DeleteObject per key: DeleteObjects needs a Content-MD5 that WHEN_REQUIRED clients don't send to Ceph 16. */
export async function emptyAndDeleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (page.Contents ?? []).map((o) => o.Key!);
    if (keys.length === 0) break;
    await Promise.all(keys.map((Key) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key }))));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

export function s3Backends(): S3Backend[] {
  const ceph = cephEnv();
  return [
    {
      name: 's3rver',
      async open(opts = {}) {
        const server = await startS3rver();
        return openBucket({ endpoint: server.endpoint, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, opts.prefix, server.stop);
      },
    },
    {
      name: 'ceph',
      skip: requires('ceph'),
      open: (opts = {}) => openBucket(ceph!, opts.prefix, async () => {}),
    },
  ];
}
