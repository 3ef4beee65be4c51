import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { Ecs, ecsClient } from '../support/sdk.ts';
import { spawnServer } from '../support/child-server.ts';
import { sampleDisk, seedSnapshot } from '../support/snapshots.ts';
import { settledImage } from './transfer-support.ts';
import { decodeManifestBody } from '../../src/blobs/manifests.ts';

test('a CopyImage interrupted by kill -9 resumes after restart and ends with every chunk in the destination', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-crash-'));
  try {
    // Seed an account and an image with ~40 MiB of real bytes, with no server running (the CLI's way).
    const config = loadConfig({ data: dataDir }, {});
    const app = await createApp(config, { logger: false, worker: false });
    const alice = await createAccount(app.services, { name: 'alice' });
    const fake = { app } as any;
    const { snapshotId } = await seedSnapshot(fake, alice.accountId, 'cn-hangzhou', sampleDisk(40, 21));
    await app.close();

    let server = await spawnServer(dataDir, { IMAGEHOUSE_JOB_LEASE_MS: '1500' });
    let client = ecsClient(server.hostPort, alice);
    const created = await client.createImage(new Ecs.CreateImageRequest({ regionId: 'cn-hangzhou', snapshotId, imageName: 'crash_src' }));
    await settledImage(client, created.body.imageId, 'cn-hangzhou');
    const copy = await client.copyImage(new Ecs.CopyImageRequest({ regionId: 'cn-hangzhou', imageId: created.body.imageId, destinationRegionId: 'ap-southeast-1', destinationImageName: 'crash_dst' }));
    const copyId = copy.body.imageId;
    // Kill the service as soon as the copy job is running.
    for (let i = 0; i < 400; i++) {
      const img = (await client.describeImages(new Ecs.DescribeImagesRequest({ regionId: 'ap-southeast-1', imageId: copyId, status: 'ALL' }))).body.images.image[0];
      if (img.status !== 'Waiting') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await server.kill9();

    server = await spawnServer(dataDir, { IMAGEHOUSE_JOB_LEASE_MS: '1500' });
    client = ecsClient(server.hostPort, alice);
    const done = await settledImage(client, copyId, 'ap-southeast-1', 120_000);
    await server.stop();
    assert.equal(done.status, 'Available');

    // The copy's manifest equals the source's, and every chunk is live and stored in the destination.
    const check = await createApp(config, { logger: false, worker: false });
    try {
      const db = check.services.db;
      const manifestOf = async (region: string, imageId: string) => {
        const row = await db.selectFrom('image_disks as d').innerJoin('snapshots as s', 's.id', 'd.snapshot_id').innerJoin('manifests as m', 'm.id', 's.manifest_id')
          .select(['m.virtual_size', 'm.body']).where('d.image_id', '=', imageId).where('s.region', '=', region).executeTakeFirstOrThrow();
        return decodeManifestBody(Number(row.virtual_size), row.body);
      };
      const src = await manifestOf('cn-hangzhou', created.body.imageId);
      const dst = await manifestOf('ap-southeast-1', copyId);
      assert.deepEqual(dst, src);
      const store = check.services.dataPlane.store('ap-southeast-1');
      for (const e of dst.entries) assert.ok(await store.has(e.ref));
      const live = await db.selectFrom('chunks').select(['ref', 'state']).where('region', '=', 'ap-southeast-1').execute();
      assert.ok(live.every((c) => c.state === 'live'));
      const snapshots = await db.selectFrom('snapshots').select('id').where('region', '=', 'ap-southeast-1').execute();
      assert.equal(snapshots.length, 1, 'the resumed copy made exactly one snapshot in the destination');
      const manifests = await db.selectFrom('manifests').select('id').where('region', '=', 'ap-southeast-1').execute();
      assert.equal(manifests.length, 1, 'and exactly one manifest: nothing leaked by the crash');
    } finally {
      await check.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
