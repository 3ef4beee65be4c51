/**
 * Re-importing a bucket object imported before (import-memo.ts): an unchanged object is recognised by its version
 * and its manifest held again without opening it; a changed one (same size, modification time put back) is read
 * anew; a memo whose manifest was freed (image and snapshot deleted, chunks collected) never serves it. On SQLite
 * and, with IMAGEHOUSE_TEST_DATABASE_URL, on PostgreSQL, where a memo hit also races another node's release of the
 * manifest: the hold waits on the manifest's row and finds it gone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomFillSync } from 'node:crypto';
import { createApp, jobKinds, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { startWorker } from '../../src/jobs/index.ts';
import pg from 'pg';
import { manifestDisk, releaseManifestIn } from '../../src/blobs/manifests.ts';
import { collectGarbage } from '../../src/blobs/gc.ts';
import { createBucket } from '../../src/services/buckets/repo.ts';
import { startImport } from '../../src/services/transfer/import.ts';
import { deleteImage } from '../../src/services/images/delete.ts';
import { deleteSnapshot } from '../../src/services/snapshots/delete.ts';
import { makeDisk, type DiskFixture } from '../e2e/transfer-support.ts';
import { needing } from '../support/requires.ts';
import { freshPostgresDatabase, storeBackends } from '../support/stores.ts';
import { waitFor } from '../support/wait.ts';

const { test } = needing('qemu-img');

const REGION = 'cn-hangzhou';
const BUCKET = 'memo-bucket';

interface Env {
  app: App;
  owner: string;
  /** How often an import opened a bucket object to read it. */
  opens: () => number;
  /** Where the folder backend keeps the bucket's objects. */
  bucketDir: string;
  dispose(): Promise<void>;
}

async function openEnv(dir: string, databaseUrl: string | undefined): Promise<Env> {
  const app = await createApp(loadConfig({ data: path.join(dir, 'data') }, databaseUrl ? { IMAGEHOUSE_DATABASE_URL: databaseUrl } : {}), { logger: false, worker: false });
  const owner = (await createAccount(app.services, { name: 'alice' })).accountId;
  await createBucket(app.services, { name: BUCKET, owner, region: REGION });
  const objects = app.services.objects;
  const openSource = objects.openSource.bind(objects);
  let opens = 0;
  objects.openSource = (...args) => (opens++, openSource(...args));
  return { app, owner, opens: () => opens, bucketDir: path.join(dir, 'data', 'buckets', BUCKET), dispose: () => app.close() };
}

/** Puts the object and waits until its last change is old enough to be remembered (the folder backend's settle time). */
async function putSettled(env: Env, key: string, file: string): Promise<string> {
  await env.app.services.objects.put(BUCKET, key, fs.createReadStream(file));
  await waitFor(async () => (await env.app.services.objects.version(BUCKET, key)).settled, { what: 'the object to settle', intervalMs: 100 });
  return path.join(env.bucketDir, key);
}

/** Imports the object and runs the job to its end; returns the image's snapshot and manifest. */
async function importObject(env: Env, key: string, name: string) {
  const { services } = env.app;
  const { ImageId } = await startImport(services, { region: REGION, owner: env.owner, name, disks: [{ bucket: BUCKET, object: key }] });
  const kinds = jobKinds(services);
  const worker = startWorker({
    queue: services.jobs, owner: 'memo-test', leaseMs: 5000, pollMs: 20, concurrency: 1,
    handlers: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, v.handler])),
  });
  try {
    await waitFor(async () => {
      const image = await services.db.selectFrom('images').select('status').where('id', '=', ImageId).executeTakeFirstOrThrow();
      return image.status === 'Available' || image.status === 'CreateFailed' ? image.status : undefined;
    }, { what: `image ${name}` });
  } finally {
    await worker.stop();
  }
  const image = await services.db.selectFrom('images').selectAll().where('id', '=', ImageId).executeTakeFirstOrThrow();
  assert.equal(image.status, 'Available', image.error_message);
  const { snapshot_id } = await services.db.selectFrom('image_disks').select('snapshot_id').where('image_id', '=', ImageId).executeTakeFirstOrThrow();
  const { manifest_id } = await services.db.selectFrom('snapshots').select('manifest_id').where('id', '=', snapshot_id).executeTakeFirstOrThrow();
  return { imageId: ImageId, snapshotId: snapshot_id, manifestId: manifest_id };
}

/** The manifest's every chunk, read from the chunk store, equals the raw file's bytes. */
async function assertHolds(env: Env, manifestId: string, raw: string): Promise<void> {
  const stored = await env.app.services.dataPlane.manifests.load(manifestId);
  assert.ok(stored, `manifest ${manifestId}`);
  const disk = manifestDisk(stored.manifest, env.app.services.dataPlane.store(REGION));
  const want = fs.readFileSync(raw);
  assert.equal(disk.virtualSize, want.length);
  const CHUNK = want.length / disk.chunkCount;
  for (let i = 0; i < disk.chunkCount; i++) {
    const got = (await disk.readChunk(i)) ?? Buffer.alloc(CHUNK);
    assert.ok(got.equals(want.subarray(i * CHUNK, (i + 1) * CHUNK)), `chunk ${i} holds the file's bytes`);
  }
}

async function holders(env: Env, manifestId: string): Promise<number | undefined> {
  return (await env.app.services.dataPlane.manifests.load(manifestId))?.holders;
}

for (const backend of storeBackends()) {
  const withEnv = (name: string, body: (env: Env, disk: DiskFixture, databaseUrl?: string) => Promise<void>, only?: 'postgres') =>
    test(`${backend.name}: ${name}`, { skip: backend.skip ?? (only && only !== backend.name ? `${only} only` : undefined) }, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-import-memo-'));
      const pg = backend.name === 'postgres' ? await freshPostgresDatabase(process.env.IMAGEHOUSE_TEST_DATABASE_URL!) : undefined;
      const env = await openEnv(dir, pg?.url);
      try {
        await body(env, makeDisk(dir, 'disk', { virtualMiB: 24, dataMiB: 8, format: 'raw' }), pg?.url);
      } finally {
        await env.dispose();
        await pg?.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

  withEnv('the same object imported again is recognised and its manifest held again, without opening it', async (env, disk) => {
    await putSettled(env, 'disk.raw', disk.file);
    const first = await importObject(env, 'disk.raw', 'first');
    assert.equal(env.opens(), 1);
    const again = await importObject(env, 'disk.raw', 'again');
    assert.equal(env.opens(), 1, 'the object was not opened again');
    assert.notEqual(again.snapshotId, first.snapshotId);
    assert.equal(again.manifestId, first.manifestId);
    assert.equal(await holders(env, first.manifestId), 2, 'held by both snapshots');
    await assertHolds(env, again.manifestId, disk.raw);
    const d = await env.app.services.db.selectFrom('image_disks').selectAll().where('image_id', '=', again.imageId).executeTakeFirstOrThrow();
    assert.deepEqual([d.format, d.size_gib, d.progress], ['RAW', 1, 100]);
  });

  withEnv('an object changed in place (same size, modification time put back) is read anew and holds the new bytes', async (env, disk) => {
    const file = await putSettled(env, 'disk.raw', disk.file);
    const first = await importObject(env, 'disk.raw', 'first');
    const { atime, mtime, size } = fs.statSync(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, randomFillSync(Buffer.alloc(4096)), 0, 4096, 0);
    fs.closeSync(fd);
    fs.utimesSync(file, atime, mtime);
    assert.equal(fs.statSync(file).size, size);
    const changed = await importObject(env, 'disk.raw', 'changed');
    assert.equal(env.opens(), 2, 'the changed object was read');
    assert.notEqual(changed.manifestId, first.manifestId);
    await assertHolds(env, changed.manifestId, file);
    await assertHolds(env, first.manifestId, disk.raw);
  });

  withEnv('a memo whose manifest was freed (image and snapshot deleted, chunks collected) is never served', async (env, disk) => {
    const { services } = env.app;
    await putSettled(env, 'disk.raw', disk.file);
    const first = await importObject(env, 'disk.raw', 'first');
    const memo = await services.db.selectFrom('import_memos').selectAll().where('manifest_id', '=', first.manifestId).executeTakeFirstOrThrow();
    await deleteImage(services, { region: REGION, imageId: first.imageId, owner: env.owner, force: false });
    await deleteSnapshot(services, { accountId: env.owner, snapshotId: first.snapshotId });
    assert.equal(await holders(env, first.manifestId), undefined, 'the manifest was freed');
    assert.equal((await services.db.selectFrom('import_memos').selectAll().execute()).length, 0, 'its memo went with it');
    const gc = await collectGarbage({ index: services.dataPlane.index, store: services.dataPlane.store(REGION), region: REGION, graceMs: 0 });
    assert.ok(gc.deleted > 0, 'its chunks were collected');
    // A memo read just before the manifest went (another node's import, say) names a freed manifest: the hold fails.
    await services.db.insertInto('import_memos').values(memo).execute();
    const again = await importObject(env, 'disk.raw', 'again');
    assert.equal(env.opens(), 2, 'the object was read again');
    assert.notEqual(again.manifestId, first.manifestId);
    assert.equal(await holders(env, again.manifestId), 1);
    await assertHolds(env, again.manifestId, disk.raw);
  });

  withEnv('a memo hit racing the release of its manifest on another node waits for that release, then imports anew', async (env, disk, databaseUrl) => {
    const { services } = env.app;
    await putSettled(env, 'disk.raw', disk.file);
    const first = await importObject(env, 'disk.raw', 'first');
    await deleteImage(services, { region: REGION, imageId: first.imageId, owner: env.owner, force: false });
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    // The snapshot's deletion has released the manifest (its row locked and deleted, the memo gone) but not committed.
    const releasing = services.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('snapshots').where('id', '=', first.snapshotId).execute();
      assert.equal(await releaseManifestIn(trx, first.manifestId, Date.now()), 0);
      await gate;
    });
    try {
      const again = importObject(env, 'disk.raw', 'again');
      await waitFor(async () => (await lockWaiters(admin)) >= 1, { what: 'the import\'s hold waiting on the manifest row' });
      letGo();
      await releasing;
      const imported = await again;
      assert.equal(env.opens(), 2, 'the object was read: the hold found the manifest gone');
      assert.notEqual(imported.manifestId, first.manifestId);
      assert.equal(await holders(env, imported.manifestId), 1);
      await assertHolds(env, imported.manifestId, disk.raw);
    } finally {
      letGo();
      await releasing.catch(() => {});
      await admin.end();
    }
  }, 'postgres');
}

/** Backends of this test's database waiting for a row lock. */
async function lockWaiters(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'");
  return rows[0].n as number;
}
