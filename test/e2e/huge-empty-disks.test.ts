/**
 * Issue 11, item 1: huge empty disks must cost the same as small ones. RunInstances with Amount=100 and
 * sixteen 32 TiB data disks used to build one manifest entry per 4 MiB (8.4 M per disk) and froze the
 * service for minutes. Asserted structurally: every manifest of the launch stores and decodes to no
 * entries at all, and another tenant's DescribeRegions calls are answered while the launch is running.
 * On SQLite always; on PostgreSQL too when IMAGEHOUSE_TEST_DATABASE_URL is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startServer } from '../support/server.ts';
import { Ecs, ecsClient } from '../support/sdk.ts';
import { PUBLIC_X64 } from '../api/disks/support.ts';
import { decodeManifestBody } from '../../src/blobs/manifests.ts';

const require = createRequire(import.meta.url);
const { $OpenApiUtil } = require('@alicloud/openapi-core');

const TIB32_GIB = 32768;
const pg = process.env.IMAGEHOUSE_TEST_DATABASE_URL;

for (const dialect of ['sqlite', 'postgres'] as const) {
  test(`RunInstances Amount=100 with 16 × 32 TiB empty data disks stores no per-chunk entries, and another tenant is answered meanwhile (${dialect})`, { skip: dialect === 'postgres' && !pg ? 'IMAGEHOUSE_TEST_DATABASE_URL is not set' : false }, async () => {
    const server = await startServer({ postgresBaseUrl: dialect === 'postgres' ? pg : undefined });
    try {
      const alice = await server.account('alice');
      const bob = await server.account('bob');
      // The launch may take a while on a loaded machine; the SDK's default read timeout is 10 s.
      const a = new Ecs.default(new $OpenApiUtil.Config({
        accessKeyId: alice.accessKeyId, accessKeySecret: alice.accessKeySecret, endpoint: server.hostPort, protocol: 'http',
        regionId: 'cn-hangzhou', readTimeout: 600_000, connectTimeout: 10_000,
      }));
      const b = ecsClient(server.hostPort, bob);

      let launched = false;
      const launch = a.runInstances(new Ecs.RunInstancesRequest({
        regionId: 'cn-hangzhou', instanceType: 'ecs.g7.large', imageId: PUBLIC_X64, amount: 100,
        dataDisk: Array.from({ length: 16 }, () => new Ecs.RunInstancesRequestDataDisk({ category: 'cloud_essd', performanceLevel: 'PL1', size: TIB32_GIB })),
      })).finally(() => { launched = true; });

      // Bob keeps asking while the launch runs; at least one answer must arrive before the launch ends.
      let answeredDuringLaunch = 0;
      while (!launched) {
        const regions = await b.describeRegions(new Ecs.DescribeRegionsRequest({}));
        assert.ok(regions.body.regions.region.length > 0);
        if (!launched) answeredDuringLaunch++;
      }
      const res = await launch;
      const ids: string[] = res.body.instanceIdSets.instanceIdSet;
      assert.equal(ids.length, 100);
      assert.ok(answeredDuringLaunch >= 1, 'DescribeRegions from another tenant was not answered while RunInstances ran');

      const { db } = server.app.services;
      const disks = await db.selectFrom('disks').select(['id', 'type', 'size_gib', 'manifest_id']).where('owner_id', '=', alice.accountId).execute();
      assert.equal(disks.length, 100 * 17);
      const data = disks.filter((d) => d.type === 'data');
      assert.equal(data.length, 1600);
      assert.ok(data.every((d) => d.size_gib === TIB32_GIB));
      const manifests = await db.selectFrom('manifests').select(['id', 'virtual_size', 'body'])
        .where('id', 'in', data.map((d) => d.manifest_id)).execute();
      assert.equal(manifests.length, 1600);
      for (const m of manifests) {
        assert.equal(Number(m.virtual_size), TIB32_GIB * 1024 ** 3);
        assert.ok(m.body.length <= 16, `manifest ${m.id} body is ${m.body.length} bytes`);
      }
      // Decoding (what every reader does) costs nothing either: no entry per zero chunk in memory.
      const loaded = await server.app.services.dataPlane.manifests.load(manifests[0].id);
      assert.ok(loaded);
      assert.equal(loaded.manifest.virtualSize, TIB32_GIB * 1024 ** 3);
      assert.equal(loaded.manifest.entries.length, 0);
      assert.equal(decodeManifestBody(TIB32_GIB * 1024 ** 3, manifests[0].body).entries.length, 0);
    } finally {
      await server.stop();
    }
  });
}
