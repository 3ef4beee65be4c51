/**
 * Clone and snapshot time against virtual disk size: copy-on-write clones and snapshots touch metadata
 * only, so their time should stay flat from 1 GiB to 1 TiB. Through the real HTTP API and the official
 * SDK: for each size a data disk with 16 MiB of data (start, middle, end) is snapshotted; then, N times,
 * RunInstances clones it (DataDisk.1.SnapshotId, same size), and CreateSnapshot freezes the clone after a
 * 4 KiB write. A third row clones a 1 GiB snapshot into a disk of the given size (the grown-manifest path).
 * Prints median / p90 per size and the 1 TiB / 1 GiB ratio of the medians.
 * Then the launch of issue 11: RunInstances with Amount=100 and sixteen 32 TiB empty data disks (1,700
 * disks, 52 PiB of virtual bytes), while another tenant calls DescribeRegions back to back; prints the
 * launch time, that tenant's p50 / p99 / max latency meanwhile, and the longest event-loop stall.
 * Usage: node --import tsx bench/clone.ts [repetitions] [huge launches]   (repetitions 0 = only the launch)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { dataRequest } from '../src/cli/api.ts';

const require = createRequire(import.meta.url);
const Ecs = require('@alicloud/ecs20140526');
const { $OpenApiUtil } = require('@alicloud/openapi-core');

const REPS = Number(process.argv[2] ?? 15);
const HUGE_LAUNCHES = Number(process.argv[3] ?? 1);
const SIZES_GIB = [1, 16, 256, 1024];
const MiB = 1024 * 1024;
const IMAGE = 'ubuntu_24_04_x64_20G_alibase_20240812.vhd';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-clone-'));
const app = await createApp(loadConfig({ data: dataDir, port: '0' }, { IMAGEHOUSE_DATABASE_URL: process.env.IMAGEHOUSE_DATABASE_URL ?? '' }), { logger: false });
const endpoint = await app.server.listen({ port: 0, host: '127.0.0.1' });
const owner = await createAccount(app.services, { name: 'bench' });
const client = new Ecs.default(new $OpenApiUtil.Config({
  accessKeyId: owner.accessKeyId, accessKeySecret: owner.accessKeySecret, endpoint: new URL(endpoint).host, protocol: 'http', regionId: 'cn-hangzhou',
}));
const data = { endpoint, region: 'cn-hangzhou', accessKeyId: owner.accessKeyId, accessKeySecret: owner.accessKeySecret };

const dataDisk = (fields: Record<string, unknown>) => new Ecs.RunInstancesRequestDataDisk({ category: 'cloud_essd', performanceLevel: 'PL0', ...fields });

async function launchWithDataDisk(disk: Record<string, unknown>): Promise<string> {
  const res = await client.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-hangzhou', imageId: IMAGE, instanceType: 'ecs.g7.large', dataDisk: [dataDisk(disk)] }));
  const instanceId = res.body.instanceIdSets.instanceIdSet[0];
  const disks = await client.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId, diskType: 'data' }));
  return disks.body.disks.disk[0].diskId;
}

async function write(diskId: string, offset: number, bytes: Buffer): Promise<void> {
  await (await dataRequest(data, 'PUT', `/disks/${diskId}/content`, { offset: String(offset) }, { body: bytes })).arrayBuffer();
}

async function sourceSnapshot(gib: number): Promise<string> {
  const diskId = await launchWithDataDisk({ size: gib });
  const size = gib * 1024 * MiB;
  for (const at of [0, Math.floor(size / 2 / MiB) * MiB, size - 4 * MiB]) await write(diskId, at, Buffer.alloc(4 * MiB, 1 + (at % 251)));
  await write(diskId, 4 * MiB, Buffer.alloc(4 * MiB, 7));
  return (await client.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId }))).body.snapshotId;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function stats(ms: number[]): { median: number; p90: number } {
  const s = [...ms].sort((x, y) => x - y);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))] };
}

async function measure(source: string, small: string, gib: number, reps: number) {
  const row = { gib, clone: [] as number[], snapshot: [] as number[], grow: [] as number[] };
  for (let i = 0; i < reps; i++) {
    let clone = '';
    row.clone.push(await timed(async () => { clone = await launchWithDataDisk({ snapshotId: source }); }));
    await write(clone, 8 * MiB, Buffer.alloc(4096, 9));
    row.snapshot.push(await timed(() => client.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: clone }))));
    row.grow.push(await timed(() => launchWithDataDisk({ snapshotId: small, size: gib })));
  }
  return row;
}

if (REPS > 0) {
  const small = await sourceSnapshot(1);
  await measure(small, small, 1, 10); // warm-up: JIT, statement caches, page cache
  const results: Awaited<ReturnType<typeof measure>>[] = [];
  for (const gib of SIZES_GIB) results.push(await measure(gib === 1 ? small : await sourceSnapshot(gib), small, gib, REPS));

  const fmt = (ms: number) => ms.toFixed(1).padStart(8);
  console.log(`clone and snapshot time by virtual disk size (${REPS} runs each, ms, ${app.store.dialect}; each clone also launches an instance with a system disk)`);
  console.log('size       clone p50  clone p90   snap p50   snap p90  grow-from-1GiB p50');
  for (const r of results) {
    const c = stats(r.clone);
    const s = stats(r.snapshot);
    const g = stats(r.grow);
    console.log(`${String(r.gib).padStart(5)} GiB ${fmt(c.median)}   ${fmt(c.p90)}   ${fmt(s.median)}   ${fmt(s.p90)}   ${fmt(g.median)}`);
  }
  const first = results[0];
  const last = results[results.length - 1];
  const ratio = (k: 'clone' | 'snapshot' | 'grow') => (stats(last[k]).median / stats(first[k]).median).toFixed(2);
  console.log(`ratio ${last.gib} GiB / ${first.gib} GiB (medians): clone ${ratio('clone')}, snapshot ${ratio('snapshot')}, grow ${ratio('grow')}`);
}

/** Issue 11: 100 instances × 16 empty 32 TiB data disks, and what another tenant sees meanwhile. */
async function hugeLaunch(): Promise<void> {
  const other = await createAccount(app.services, { name: `bench-other-${Date.now()}` });
  const otherClient = new Ecs.default(new $OpenApiUtil.Config({
    accessKeyId: other.accessKeyId, accessKeySecret: other.accessKeySecret, endpoint: new URL(endpoint).host, protocol: 'http', regionId: 'cn-hangzhou',
  }));
  const slowClient = new Ecs.default(new $OpenApiUtil.Config({
    accessKeyId: owner.accessKeyId, accessKeySecret: owner.accessKeySecret, endpoint: new URL(endpoint).host, protocol: 'http', regionId: 'cn-hangzhou', readTimeout: 3_600_000,
  }));
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let done = false;
  const started = performance.now();
  const launch = slowClient.runInstances(new Ecs.RunInstancesRequest({
    regionId: 'cn-hangzhou', imageId: IMAGE, instanceType: 'ecs.g7.large', amount: 100,
    dataDisk: Array.from({ length: 16 }, () => dataDisk({ performanceLevel: 'PL1', size: 32768 })),
  })).finally(() => { done = true; });
  const latencies: number[] = [];
  while (!done) latencies.push(await timed(() => otherClient.describeRegions(new Ecs.DescribeRegionsRequest({}))));
  await launch;
  const launchMs = performance.now() - started;
  loop.disable();
  const s = [...latencies].sort((x, y) => x - y);
  const pct = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))].toFixed(1) : 'n/a');
  console.log(`RunInstances Amount=100 × 16 × 32 TiB empty data disks (${app.store.dialect}): ${launchMs.toFixed(0)} ms`);
  console.log(`  other tenant's DescribeRegions meanwhile: ${s.length} calls, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${s.length ? s[s.length - 1].toFixed(1) : 'n/a'} ms`);
  console.log(`  longest event-loop stall: ${(loop.max / 1e6).toFixed(1)} ms (p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms)`);
}

for (let i = 0; i < HUGE_LAUNCHES; i++) await hugeLaunch();

await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
