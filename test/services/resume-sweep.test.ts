/**
 * A job resumed after the GC grace period attaches a manifest it committed before a crash, while the manifest
 * sweep (any node's) finds that manifest old and held by nobody. On PostgreSQL the two run at once: the sweep is
 * stopped in the middle of its transaction (after its re-check, before its release commits) by a lock the test
 * holds on one of the manifest's chunk rows, and the resumed job runs while it waits. The attach must then wait
 * for the sweep and import the disk again, never point a snapshot at a manifest the sweep is deleting. Likewise
 * the Glance file manifest (the uploaded bytes of a non-raw image), which only `glance_images` points at.
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
import { importDisk } from '../../src/blobs/importer.ts';
import { inspect, openFileSource, openReader } from '../../src/formats/index.ts';
import { uniqueBytes } from '../../src/services/snapshots/repo.ts';
import { createBucket } from '../../src/services/buckets/repo.ts';
import { startImport } from '../../src/services/transfer/import.ts';
import { sweepOrphanManifests } from '../../src/services/manifest-sweep.ts';
import type { ImportedDisk } from '../../src/services/transfer/kinds.ts';
import { makeDisk, type DiskFixture } from '../e2e/transfer-support.ts';
import { needing } from '../support/requires.ts';
import { freshPostgresDatabase, postgresBaseUrl } from '../support/stores.ts';
import { waitFor } from '../support/wait.ts';

const { after, before, test } = needing('qemu-img', 'postgres');

const REGION = 'cn-hangzhou';
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
  const { rows } = await admin.query(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
  );
  return rows[0].n as number;
}

async function openJobs(): Promise<number> {
  const { n } = await app.services.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('state', 'in', ['queued', 'running']).executeTakeFirstOrThrow();
  return Number(n);
}

/** Every manifest is held exactly by what points at it, and every chunk's refcount counts the manifests' references. */
async function assertHoldsAndRefcounts(): Promise<void> {
  const db = app.services.db;
  const refs = new Map<string, number>();
  for (const m of await db.selectFrom('manifests').selectAll().execute()) {
    for (const e of decodeManifestBody(Number(m.virtual_size), m.body).entries) refs.set(e.ref, (refs.get(e.ref) ?? 0) + 1);
    const users = (await db.selectFrom('snapshots').select('id').where('manifest_id', '=', m.id).execute()).length
      + (await db.selectFrom('disks').select('id').where('manifest_id', '=', m.id).execute()).length
      + (await db.selectFrom('glance_images').select('image_id').where('file_manifest_id', '=', m.id).execute()).length;
    assert.equal(m.holders, users, `manifest ${m.id} is held by exactly what points at it`);
  }
  for (const c of await db.selectFrom('chunks').selectAll().execute()) assert.equal(c.refcount, refs.get(c.ref) ?? 0, `refcount of ${c.ref}`);
}

test('a job resumed after the grace period attaches its manifest under the lock the manifest sweep takes', async () => {
  const crashed = await crashedImport('resumed-after-grace');
  const manifest = (await app.services.dataPlane.manifests.load(crashed.entry.manifestId))!;
  now += GRACE_MS + 1; // the node was down for longer than the grace period: the sweep sees an orphan

  // Another node's sweep, stopped between its re-check and its commit.
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const blocker = new pg.Client({ connectionString: database.url });
  await blocker.connect();
  let sweep: Promise<number> | undefined;
  let worker: ReturnType<typeof startWorker> | undefined;
  try {
    await blocker.query('begin');
    await blocker.query('select 1 from chunks where ref = $1 for update', [manifest.manifest.entries[0].ref]);
    sweep = sweepOrphanManifests(app.services, { graceMs: GRACE_MS });
    await waitFor(async () => (await lockWaiters(admin)) >= 1, { what: 'the sweep waiting on the chunk row' });

    const kinds = jobKinds(app.services);
    worker = startWorker({
      queue: app.services.jobs, owner: 'resumed-node', leaseMs: 5000, pollMs: 20, concurrency: 1, retryDelayMs: () => 0,
      handlers: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, v.handler])),
    });
    // Unfixed, the attach commits at once; fixed, it waits for the sweep's lock on the manifest row.
    await waitFor(async () => (await lockWaiters(admin)) >= 2 || (await openJobs()) === 0, { what: 'the resumed job attaching or waiting' });
    await blocker.query('commit');
    assert.equal(await sweep, 1, 'the sweep released the orphan it had locked');
    await waitFor(async () => (await openJobs()) === 0, { what: 'the import to finish' });
  } finally {
    await blocker.query('rollback').catch(() => {});
    await sweep?.catch(() => {});
    await worker?.stop();
    await blocker.end();
    await admin.end();
  }

  const image = await app.services.db.selectFrom('images').selectAll().where('id', '=', crashed.imageId).executeTakeFirstOrThrow();
  assert.equal(image.status, 'Available');
  const d = await app.services.db.selectFrom('image_disks').selectAll().where('image_id', '=', crashed.imageId).executeTakeFirstOrThrow();
  const snapshot = await app.services.db.selectFrom('snapshots').selectAll().where('id', '=', d.snapshot_id).executeTakeFirstOrThrow();
  const attached = await app.services.dataPlane.manifests.load(snapshot.manifest_id);
  assert.ok(attached, 'the snapshot\'s manifest exists');
  assert.equal(attached.holders, 1);
  assert.deepEqual(attached.manifest, manifest.manifest, 'the disk was imported again, to the same content');
  const live = await app.services.db.selectFrom('chunks').select(['ref', 'state']).where('ref', 'in', attached.manifest.entries.map((e) => e.ref)).execute();
  assert.deepEqual(new Set(live.map((c) => c.state)), new Set(['live']));
  await assertHoldsAndRefcounts();
});
