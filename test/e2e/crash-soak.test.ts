/**
 * Crash soak (issue 11): a seeded mixed workload (imports, cross-region copies, images from snapshots, exports,
 * deletes, and the service's own GC every second) runs while the service is killed with kill -9 at random
 * moments, 20 times, on SQLite and on PostgreSQL. After the last restart every job reaches a terminal state and
 * no image stays in progress; then chunk refcounts equal the references recounted from manifests, every manifest
 * is held by exactly its snapshots and disks, GC leaves exactly the referenced chunks, and every Available image
 * holds the bytes of the disk it came from. No answer before a kill may be an InternalError.
 * CRASH_SOAK_SEED replays another schedule.
 */
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openConfiguredStore } from '../../src/app.ts';
import type { Store } from '../../src/store/db.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { FsChunkStore } from '../../src/blobs/fs-store.ts';
import { decodeManifestBody } from '../../src/blobs/manifests.ts';
import { createBucket, putObject } from '../../src/cli/commands/transfer/client.ts';
import { Ecs, ecsClient } from '../support/sdk.ts';
import { freshPostgresDatabase, postgresBaseUrl } from '../support/stores.ts';
import { waitFor } from '../support/wait.ts';
import { requires } from '../support/requires.ts';
import { qcow2Image, sampleDisk, vhdDynamicImage } from '../formats/small-images.ts';
import { assertNoLeaks, createAccount, kill9, running, startService, stop, type Service } from './crash-support.ts';
import { clientConfig, importRequest, MiB, REGION } from './transfer-support.ts';
import { seededRandom } from '../support/prng.ts';

const KILLS = Number(process.env.CRASH_SOAK_KILLS ?? 20);
const LEASE_MS = 1000;
const OTHER_REGION = 'ap-southeast-1';
const BUCKET = 'soak';
const SEED = Number(process.env.CRASH_SOAK_SEED ?? 20261202);
/** New work waits while this many jobs are open, so the soak's work (and its time) stays bounded on a slow machine. */
const MAX_OPEN_JOBS = 4;
// GC runs every second; its grace should outlast an import from first chunk to commit on a loaded machine (an import
// that loses chunks fails and is retried whole; a copy re-runs itself, test/e2e/gc-window.test.ts, so 200 ms is safe for copies).
const SERVICE_ENV = { IMAGEHOUSE_GC_INTERVAL_MS: '1000', IMAGEHOUSE_GC_GRACE_MS: '5000' };

/** Source disks by key: the guest bytes, and the file uploaded for import. */
function sourceDisks(): Map<string, { raw: Buffer; object: string; file: Buffer }> {
  const random = randomFillSync(Buffer.alloc(12 * MiB));
  const sparse = sampleDisk(16 * MiB, 3);
  const vhd = sampleDisk(8 * MiB, 5);
  return new Map([
    ['r', { raw: random, object: 'r.raw', file: random }],
    ['q', { raw: sparse, object: 'q.qcow2', file: qcow2Image(sparse, { clusterBits: 16 }) }],
    ['v', { raw: vhd, object: 'v.vhd', file: vhdDynamicImage(vhd, 2 * MiB) }],
  ]);
}


/** Image names carry the source key (`imp-q-3`, `cp-q-7`), so the end check knows which bytes to expect. */
const sourceKeyOf = (name: string) => name.split('-')[1];

interface Soak {
  store: Store;
  accountId: string;
  rng: () => number;
  sources: Map<string, { raw: Buffer; object: string }>;
  /** Answers by action and code, for the report. */
  answers: Map<string, number>;
  n: number;
}

async function availableImages(soak: Soak) {
  return soak.store.db.selectFrom('images').select(['id', 'region', 'name']).where('owner_id', '=', soak.accountId).where('status', '=', 'Available').execute();
}

/** One action of the mix, picked by the seeded generator. */
async function act(soak: Soak, client: any): Promise<string> {
  const open = await soak.store.db.selectFrom('jobs').select('id').where('state', 'in', ['queued', 'running']).execute();
  if (open.length >= MAX_OPEN_JOBS) {
    await new Promise((r) => setTimeout(r, 50));
    return 'wait';
  }
  const pick = <T>(xs: T[]): T => xs[Math.floor(soak.rng() * xs.length)];
  const images = await availableImages(soak);
  const n = soak.n++;
  const roll = soak.rng();
  if (roll < 0.35 || images.length === 0) {
    const key = pick([...soak.sources.keys()]);
    await client.importImage(importRequest(BUCKET, [{ object: soak.sources.get(key)!.object }], { imageName: `imp-${key}-${n}` }));
    return 'ImportImage';
  }
  const image = pick(images);
  const key = sourceKeyOf(image.name);
  if (roll < 0.55) {
    const to = image.region === REGION ? OTHER_REGION : REGION;
    await client.copyImage(new Ecs.CopyImageRequest({ regionId: image.region, imageId: image.id, destinationRegionId: to, destinationImageName: `cp-${key}-${n}` }));
    return 'CopyImage';
  }
  if (roll < 0.7) {
    const disk = await soak.store.db.selectFrom('image_disks').select('snapshot_id').where('image_id', '=', image.id).where('idx', '=', 0).executeTakeFirst();
    if (!disk) return 'none';
    await client.createImage(new Ecs.CreateImageRequest({ regionId: image.region, snapshotId: disk.snapshot_id, imageName: `snap-${key}-${n}` }));
    return 'CreateImage';
  }
  if (roll < 0.8 && image.region === REGION) {
    await client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId: image.id, OSSBucket: BUCKET, imageFormat: pick(['qcow2', 'raw', 'vhd']), OSSPrefix: `x${n}` }));
    return 'ExportImage';
  }
  if (images.length > 4) {
    await client.deleteImage(new Ecs.DeleteImageRequest({ regionId: image.region, imageId: image.id, force: true }));
    return 'DeleteImage';
  }
  return 'none';
}

/** Runs actions back to back until the service is killed; returns once the kill has happened. */
async function runUntilKilled(soak: Soak, service: Service, account: { accessKeyId: string; accessKeySecret: string }, killAfterMs: number): Promise<void> {
  const client = ecsClient(service.hostPort, account);
  let killed = false;
  const killer = new Promise<void>((resolve) => setTimeout(() => {
    killed = true;
    void kill9(service).then(resolve);
  }, killAfterMs));
  while (!killed) {
    const started = Date.now();
    try {
      const action = await act(soak, client);
      if (action === 'wait') continue;
      soak.answers.set(`${action} ok`, (soak.answers.get(`${action} ok`) ?? 0) + 1);
      if (process.env.CRASH_SOAK_VERBOSE) process.stderr.write(`  ${action} ${Date.now() - started} ms\n`);
    } catch (e) {
      if (killed) break;
      const code = (e as { code?: string }).code ?? String(e);
      assert.notEqual(code, 'InternalError', `an action answered InternalError before the kill: ${(e as Error).message}`);
      soak.answers.set(code, (soak.answers.get(code) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await killer;
}

async function diskBytes(store: Store, dataDir: string, imageId: string, region: string): Promise<Buffer> {
  const row = await store.db.selectFrom('image_disks as d').innerJoin('snapshots as s', 's.id', 'd.snapshot_id').innerJoin('manifests as m', 'm.id', 's.manifest_id')
    .select(['m.virtual_size', 'm.body']).where('d.image_id', '=', imageId).where('d.idx', '=', 0).executeTakeFirstOrThrow();
  const manifest = decodeManifestBody(Number(row.virtual_size), row.body);
  const chunks = new FsChunkStore(path.join(dataDir, 'chunks', region));
  try {
    const out = Buffer.alloc(manifest.virtualSize);
    for (const e of manifest.entries) (await chunks.get(e.ref)).copy(out, e.index * CHUNK_SIZE);
    return out;
  } finally {
    await chunks.close();
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function soakWith(databaseUrl: string): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-soak-'));
  const account = await createAccount(dataDir, databaseUrl);
  const store = await openConfiguredStore({ dataDir, databaseUrl });
  const sources = sourceDisks();
  const soak: Soak = { store, accountId: account.accountId, rng: seededRandom(SEED), sources, answers: new Map(), n: 0 };
  let service = await startService(dataDir, databaseUrl, LEASE_MS, SERVICE_ENV);
  try {
    const cfg = clientConfig(service.endpoint, account);
    await createBucket(cfg, BUCKET);
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-soak-src-'));
    for (const s of sources.values()) {
      fs.writeFileSync(path.join(staging, s.object), s.file);
      await putObject(cfg, BUCKET, s.object, path.join(staging, s.object));
    }
    fs.rmSync(staging, { recursive: true, force: true });

    for (let k = 0; k < KILLS; k++) {
      await runUntilKilled(soak, service, account, 300 + Math.floor(soak.rng() * 2000));
      service = await startService(dataDir, databaseUrl, LEASE_MS, SERVICE_ENV);
      if (process.env.CRASH_SOAK_VERBOSE) process.stderr.write(`kill ${k + 1}: ${soak.n} actions, ${JSON.stringify(Object.fromEntries(soak.answers))}\n`);
    }

    // The last start: every job the kills interrupted finishes, and nothing stays in progress.
    const openJobs = () => store.db.selectFrom('jobs').select(['id', 'kind', 'state', 'attempts', 'max_attempts', 'run_at', 'lease_owner', 'lease_until', 'progress'])
      .where('state', 'in', ['queued', 'running']).execute();
    await waitFor(async () => (await openJobs()).length === 0, { what: 'every job to reach a terminal state', timeoutMs: 180_000, intervalMs: 200 })
      .catch(async (e) => {
        throw new Error(`${(e as Error).message} at ${Date.now()}: ${JSON.stringify(await openJobs())}\n${service.output().slice(-4000)}`);
      });
    const states = await store.db.selectFrom('jobs').select(['kind', 'state', 'error_code', 'error_message']).execute();
    const stuck = await store.db.selectFrom('images').select(['id', 'status']).where('status', 'in', ['Waiting', 'Creating']).execute();
    assert.deepEqual(stuck, [], 'no image is left in progress');
    await stop(service);

    for (const region of [REGION, OTHER_REGION]) await assertNoLeaks(store, dataDir, region);
    const images = await availableImages(soak);
    for (const image of images) {
      const want = sources.get(sourceKeyOf(image.name))!.raw;
      const got = await diskBytes(store, dataDir, image.id, image.region);
      assert.ok(got.length >= want.length && got.subarray(want.length).every((b) => b === 0), `${image.name}: size ${got.length}`);
      assert.equal(sha(got.subarray(0, want.length)), sha(want), `${image.name} (${image.id} in ${image.region}) holds its source's bytes`);
    }
    const jobs = new Map<string, number>();
    for (const j of states) jobs.set(`${j.kind} ${j.state}${j.error_code ? ` ${j.error_code}` : ''}`, (jobs.get(`${j.kind} ${j.state}${j.error_code ? ` ${j.error_code}` : ''}`) ?? 0) + 1);
    for (const j of states.filter((x) => x.error_code === 'InternalError')) console.log(`${j.kind} failed: ${j.error_message}`);
    console.log(`crash soak (seed ${SEED}, ${databaseUrl ? 'postgres' : 'sqlite'}): ${KILLS} kills, ${soak.n} actions; ` +
      `answers ${JSON.stringify(Object.fromEntries(soak.answers))}; jobs ${JSON.stringify(Object.fromEntries(jobs))}; ${images.length} Available images checked byte for byte`);
    assert.ok(states.some((j) => j.state === 'succeeded'), 'the workload got work done between the kills');
  } finally {
    if (running(service)) await kill9(service);
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

test(`sqlite: ${KILLS} kill -9s during a mixed workload leave no leak and every job finished`, { timeout: 900_000 }, async () => {
  await soakWith('');
});

test(`postgres: ${KILLS} kill -9s during a mixed workload leave no leak and every job finished`, { timeout: 900_000, skip: requires('postgres') }, async () => {
  const pg = await freshPostgresDatabase(postgresBaseUrl()!);
  try {
    await soakWith(pg.url);
  } finally {
    await pg.drop();
  }
});
