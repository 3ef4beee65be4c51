/**
 * The import job's crash windows that a kill -9 cannot aim at: a disk whose manifest id was checkpointed but
 * not committed, and one committed but not yet attached to a snapshot. The job state is set up as the crashed
 * run left it (real chunks, real manifest rows), then a worker resumes the job or a cancel ends it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp, jobKinds, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { startWorker, type Worker } from '../../src/jobs/index.ts';
import { newManifestId } from '../../src/blobs/manifests.ts';
import { importDisk } from '../../src/blobs/importer.ts';
import { inspect, openFileSource, openReader } from '../../src/formats/index.ts';
import { uniqueBytes } from '../../src/services/snapshots/repo.ts';
import { createBucket } from '../../src/services/buckets/repo.ts';
import { startImport } from '../../src/services/transfer/import.ts';
import type { ImportedDisk } from '../../src/services/transfer/kinds.ts';
import { makeDisk, type DiskFixture } from '../e2e/transfer-support.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

const REGION = 'cn-hangzhou';
let app: App;
let dir: string;
let owner: string;
let disk: DiskFixture;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-transfer-resume-'));
  app = await createApp(loadConfig({ data: path.join(dir, 'data') }, {}), { logger: false, worker: false });
  owner = (await createAccount(app.services, { name: 'alice' })).accountId;
  disk = makeDisk(dir, 'disk', { virtualMiB: 24, dataMiB: 8, format: 'qcow2' });
  await createBucket(app.services, { name: 'resume-bucket', owner, region: REGION });
  await app.services.objects.put('resume-bucket', 'disk.qcow2', fs.createReadStream(disk.file));
});
after(async () => {
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A queued import whose job state says disk 0 got as far as a crashed run took it. */
async function crashedImport(name: string, commit: boolean): Promise<{ imageId: string; taskId: string; entry: ImportedDisk }> {
  const { services } = app;
  const started = await startImport(services, { region: REGION, owner, name, disks: [{ bucket: 'resume-bucket', object: 'disk.qcow2' }] });
  const src = await openFileSource(disk.file);
  const insp = await inspect(src);
  const manifest = await importDisk(await openReader(src, insp), services.dataPlane.importDeps(REGION));
  await src.close();
  const entry: ImportedDisk = { manifestId: newManifestId(), virtualSize: manifest.virtualSize, sizeGib: 1, format: 'qcow2', uniqueBytes: uniqueBytes(manifest) };
  if (commit) await services.dataPlane.manifests.commit(REGION, manifest, { id: entry.manifestId });
  await services.db.updateTable('jobs').set({ result: JSON.stringify({ disks: { 0: entry } }) }).where('id', '=', started.TaskId).execute();
  return { imageId: started.ImageId, taskId: started.TaskId, entry };
}

async function runJobs(): Promise<void> {
  const kinds = jobKinds(app.services);
  const worker: Worker = startWorker({
    queue: app.services.jobs, owner: 'resume-test', leaseMs: 5000, pollMs: 20, concurrency: 1,
    handlers: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, v.handler])),
  });
  try {
    for (let i = 0; i < 3000; i++) {
      const { n } = await app.services.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('state', 'in', ['queued', 'running']).executeTakeFirstOrThrow();
      if (Number(n) === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('jobs did not finish');
  } finally {
    await worker.stop();
  }
}

async function imageState(imageId: string) {
  const image = await app.services.db.selectFrom('images').selectAll().where('id', '=', imageId).executeTakeFirstOrThrow();
  const d = await app.services.db.selectFrom('image_disks').selectAll().where('image_id', '=', imageId).executeTakeFirstOrThrow();
  const snapshot = d.snapshot_id ? await app.services.db.selectFrom('snapshots').selectAll().where('id', '=', d.snapshot_id).executeTakeFirst() : undefined;
  return { image, disk: d, snapshot };
}

test('a manifest committed just before the crash is attached on resume, not imported again', async () => {
  const crashed = await crashedImport('committed-not-attached', true);
  await runJobs();
  const { image, snapshot } = await imageState(crashed.imageId);
  assert.equal(image.status, 'Available');
  assert.equal(snapshot?.manifest_id, crashed.entry.manifestId);
  assert.equal((await app.services.dataPlane.manifests.load(crashed.entry.manifestId))?.holders, 1, 'held once, by the snapshot');
  const job = await app.services.jobs.get(crashed.taskId);
  assert.equal(job?.attempts, 1);
});

test('a manifest id checkpointed but never committed is imported again under that id', async () => {
  const crashed = await crashedImport('checkpointed-not-committed', false);
  assert.equal(await app.services.dataPlane.manifests.load(crashed.entry.manifestId), undefined);
  await runJobs();
  const { image, snapshot } = await imageState(crashed.imageId);
  assert.equal(image.status, 'Available');
  assert.equal(snapshot?.manifest_id, crashed.entry.manifestId);
  assert.equal((await app.services.dataPlane.manifests.load(crashed.entry.manifestId))?.holders, 1);
});

test('cancelling a crashed import releases the manifest it committed but never attached', async () => {
  const crashed = await crashedImport('cancelled-after-crash', true);
  await app.services.jobs.requestCancel(crashed.taskId);
  const { image, disk: d } = await imageState(crashed.imageId);
  assert.equal(image.status, 'UnAvailable');
  assert.equal(d.snapshot_id, '');
  assert.equal(await app.services.dataPlane.manifests.load(crashed.entry.manifestId), undefined, 'released');
  assert.equal((await app.services.jobs.get(crashed.taskId))?.state, 'cancelled');
});
