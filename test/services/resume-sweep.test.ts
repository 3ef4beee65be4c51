/**
 * A job resumed after the GC grace period attaches a manifest it committed before a crash, while the manifest
 * sweep (any node's) finds that manifest old and held by nobody. On PostgreSQL the two run at once: the sweep is
 * stopped in the middle of its transaction (manifest row locked and re-checked, release not yet committed) by a
 * lock the test holds on an expired read hold of that manifest, which the sweep deletes, and the resumed job runs
 * while it waits. The attach must then wait for the sweep and import (or copy) the disk again, never point a
 * snapshot at a manifest the sweep is deleting.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createApp, jobKinds, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { startWorker } from '../../src/jobs/index.ts';
import { decodeManifestBody, newManifestId } from '../../src/blobs/manifests.ts';
import { copyChunks, importDisk } from '../../src/blobs/importer.ts';
import { inspect, openFileSource, openReader } from '../../src/formats/index.ts';
import { uniqueBytes } from '../../src/services/snapshots/repo.ts';
import { createBucket } from '../../src/services/buckets/repo.ts';
import { startImport } from '../../src/services/transfer/import.ts';
import { copyImage } from '../../src/services/images/copy.ts';
import { sweepOrphanManifests } from '../../src/services/manifest-sweep.ts';
import type { ImportedDisk } from '../../src/services/transfer/kinds.ts';
import type { Manifest } from '../../src/blobs/types.ts';
import { makeDisk, type DiskFixture } from '../e2e/transfer-support.ts';
import { needing } from '../support/requires.ts';
import { freshPostgresDatabase, postgresBaseUrl } from '../support/stores.ts';
import { waitFor } from '../support/wait.ts';

const { after, before, test } = needing('qemu-img', 'postgres');

const REGION = 'cn-hangzhou';
const COPY_REGION = 'cn-beijing';
const GRACE_MS = 60_000;
let app: App;
let dir: string;
let owner: string;
let disk: DiskFixture;
let database: { url: string; drop(): Promise<void> };
let now = Date.parse('2026-12-01T00:00:00Z');
const clock = { now: () => now };

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-resume-sweep-'));
  database = await freshPostgresDatabase(postgresBaseUrl()!);
  app = await createApp(loadConfig({ data: path.join(dir, 'data') }, { IMAGEHOUSE_DATABASE_URL: database.url, IMAGEHOUSE_GC_GRACE_MS: String(GRACE_MS) }), { logger: false, worker: false, clock });
  owner = (await createAccount(app.services, { name: 'alice' })).accountId;
  disk = makeDisk(dir, 'disk', { virtualMiB: 24, dataMiB: 8, format: 'qcow2' });
  await createBucket(app.services, { name: 'resume-bucket', owner, region: REGION });
  await app.services.objects.put('resume-bucket', 'disk.qcow2', fs.createReadStream(disk.file));
});
after(async () => {
  await app?.close();
  await database?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A queued import whose crashed run committed disk 0's manifest but died before attaching it. */
async function crashedImport(name: string): Promise<{ imageId: string; taskId: string; entry: ImportedDisk }> {
  const { services } = app;
  const started = await startImport(services, { region: REGION, owner, name, disks: [{ bucket: 'resume-bucket', object: 'disk.qcow2' }] });
  const src = await openFileSource(disk.file);
  const manifest = await importDisk(await openReader(src, await inspect(src)), services.dataPlane.importDeps(REGION));
  await src.close();
  const entry: ImportedDisk = { manifestId: newManifestId(), virtualSize: manifest.virtualSize, sizeGib: 1, format: 'qcow2', uniqueBytes: uniqueBytes(manifest) };
  await services.dataPlane.manifests.commit(REGION, manifest, { id: entry.manifestId });
  await services.db.updateTable('jobs').set({ result: JSON.stringify({ disks: { 0: entry } }) }).where('id', '=', started.TaskId).execute();
  return { imageId: started.ImageId, taskId: started.TaskId, entry };
}

/** Backends of this test's database waiting for a row lock. */
async function lockWaiters(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'");
  return rows[0].n as number;
}

async function openJobs(): Promise<number> {
  const { n } = await app.services.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('state', 'in', ['queued', 'running']).executeTakeFirstOrThrow();
  return Number(n);
}

function startJobs(): ReturnType<typeof startWorker> {
  const kinds = jobKinds(app.services);
  return startWorker({
    queue: app.services.jobs, owner: 'resumed-node', leaseMs: 5000, pollMs: 20, concurrency: 1, retryDelayMs: () => 0,
    handlers: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, v.handler])),
  });
}

/**
 * Another node's manifest sweep, stopped after it locked and re-checked `manifestId` (a dead reader's expired hold
 * it must delete is locked by the test), while a worker resumes the jobs; then the sweep is let go.
 */
async function resumeDuringSweep(manifestId: string): Promise<void> {
  now += GRACE_MS + 1; // the node was down for longer than the grace period: the sweep sees an orphan
  await app.services.db.insertInto('read_holds').values({ id: `rh-dead-${manifestId}`, manifest_id: manifestId, expires_at: now - 1 }).execute();
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const blocker = new pg.Client({ connectionString: database.url });
  await blocker.connect();
  let sweep: Promise<number> | undefined;
  let worker: ReturnType<typeof startWorker> | undefined;
  try {
    await blocker.query('begin');
    await blocker.query('select 1 from read_holds where manifest_id = $1 for update', [manifestId]);
    sweep = sweepOrphanManifests(app.services, { graceMs: GRACE_MS });
    await waitFor(async () => (await lockWaiters(admin)) >= 1, { what: 'the sweep waiting on the read hold' });
    worker = startJobs();
    // Unfixed, the attach commits at once; fixed, it waits for the sweep's lock on the manifest row.
    await waitFor(async () => (await lockWaiters(admin)) >= 2 || (await openJobs()) === 0, { what: 'the resumed job attaching or waiting' });
    await blocker.query('commit');
    assert.equal(await sweep, 1, 'the sweep released the orphan it had locked');
    await waitFor(async () => (await openJobs()) === 0, { what: 'the job to finish' });
  } finally {
    await blocker.query('rollback').catch(() => {});
    await sweep?.catch(() => {});
    await worker?.stop();
    await blocker.end();
    await admin.end();
  }
}

/** Every manifest is held exactly by what points at it, and every chunk's refcount counts the manifests' references. */
async function assertHoldsAndRefcounts(): Promise<void> {
  const db = app.services.db;
  const refs = new Map<string, number>();
  for (const m of await db.selectFrom('manifests').selectAll().execute()) {
    for (const e of decodeManifestBody(Number(m.virtual_size), m.body).entries) refs.set(`${m.region}/${e.ref}`, (refs.get(`${m.region}/${e.ref}`) ?? 0) + 1);
    const users = (await db.selectFrom('snapshots').select('id').where('manifest_id', '=', m.id).execute()).length
      + (await db.selectFrom('disks').select('id').where('manifest_id', '=', m.id).execute()).length
      + (await db.selectFrom('glance_images').select('image_id').where('file_manifest_id', '=', m.id).execute()).length;
    assert.equal(m.holders, users, `manifest ${m.id} is held by exactly what points at it`);
  }
  for (const c of await db.selectFrom('chunks').selectAll().execute()) assert.equal(c.refcount, refs.get(`${c.region}/${c.ref}`) ?? 0, `refcount of ${c.region}/${c.ref}`);
}

/** The image is Available and its disk's snapshot holds a manifest of `content`, all of whose chunks are live. */
async function assertAttached(imageId: string, content: Manifest): Promise<void> {
  const db = app.services.db;
  assert.equal((await db.selectFrom('images').select('status').where('id', '=', imageId).executeTakeFirstOrThrow()).status, 'Available');
  const d = await db.selectFrom('image_disks').selectAll().where('image_id', '=', imageId).executeTakeFirstOrThrow();
  const snapshot = await db.selectFrom('snapshots').selectAll().where('id', '=', d.snapshot_id).executeTakeFirstOrThrow();
  const attached = await app.services.dataPlane.manifests.load(snapshot.manifest_id);
  assert.ok(attached, 'the snapshot\'s manifest exists');
  assert.equal(attached.holders, 1);
  assert.deepEqual(attached.manifest, content, 'the disk was stored again, to the same content');
  const rows = await db.selectFrom('chunks').select('state').where('region', '=', attached.region).where('ref', 'in', content.entries.map((e) => e.ref)).execute();
  assert.deepEqual(new Set(rows.map((c) => c.state)), new Set(['live']));
  await assertHoldsAndRefcounts();
}

test('an import resumed after the grace period attaches its manifest under the lock the manifest sweep takes', async () => {
  const crashed = await crashedImport('resumed-after-grace');
  const manifest = (await app.services.dataPlane.manifests.load(crashed.entry.manifestId))!;
  await resumeDuringSweep(crashed.entry.manifestId);
  await assertAttached(crashed.imageId, manifest.manifest);
});

test('a copy resumed after the grace period attaches its manifest under the lock the manifest sweep takes', async () => {
  const { services } = app;
  const imported = await crashedImport('copy-source');
  const worker = startJobs();
  try {
    await waitFor(async () => (await openJobs()) === 0, { what: 'the source image\'s import' });
  } finally {
    await worker.stop();
  }
  const importedImage = imported.imageId;
  const { imageId } = await copyImage(services, { sourceRegion: REGION, imageId: importedImage, caller: owner, destinationRegion: COPY_REGION, tags: [] });
  // The crashed run copied the chunks and committed the destination manifest, then died before attaching it.
  const job = await services.db.selectFrom('jobs').selectAll().where('resource_id', '=', imageId).executeTakeFirstOrThrow();
  const source = await services.db.selectFrom('image_disks as d').innerJoin('snapshots as s', 's.id', 'd.snapshot_id').select('s.manifest_id')
    .where('d.image_id', '=', importedImage).executeTakeFirstOrThrow();
  const content = (await services.dataPlane.manifests.load(source.manifest_id))!.manifest;
  await copyChunks(content, services.dataPlane.store(REGION), { store: services.dataPlane.store(COPY_REGION), index: services.dataPlane.index, region: COPY_REGION });
  const manifestId = await services.dataPlane.manifests.commit(COPY_REGION, content);
  await services.db.updateTable('jobs').set({ result: JSON.stringify({ disks: { 0: { manifestId } } }) }).where('id', '=', job.id).execute();
  await resumeDuringSweep(manifestId);
  await assertAttached(imageId, content);
});
