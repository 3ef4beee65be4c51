/**
 * kill -9 during an import and during an export: the service is a child process with a short job lease;
 * after a restart the same task resumes (finished disks and objects are not redone) and ends with an
 * Available image holding the original bytes, no partial object under a final name, and no chunk leaked.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openConfiguredStore } from '../../src/app.ts';
import type { Store } from '../../src/store/db.ts';
import { parseJson } from '../../src/jobs/index.ts';
import { createBucket, getObject, putObject } from '../../src/cli/commands/transfer/client.ts';
import { Ecs, ecsClient } from '../support/sdk.ts';
import { freshPostgresDatabase, postgresBaseUrl } from '../support/stores.ts';
import { REGION, clientConfig, importRequest, makeDisk, makeMarkerDisk, sameContent, settledImage, settledTask } from './transfer-support.ts';
import { waitFor } from '../support/wait.ts';
import { assertNoLeaks, createAccount, kill9, running, startService, stop } from './crash-support.ts';
import { needing, requires } from '../support/requires.ts';

const { test } = needing('qemu-img');

const LEASE_MS = 1500;

async function jobState(store: Store, id: string) {
  const job = await store.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return { job, result: parseJson(job.result) };
}

async function crashDuringImportAndExport(databaseUrl: string): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-crash-'));
  const fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-crash-fixtures-'));
  const account = await createAccount(dataDir, databaseUrl);
  const system = makeDisk(fixtures, 'system', { virtualMiB: 64, dataMiB: 24, format: 'qcow2' });
  const data = makeMarkerDisk(fixtures, 'data', 768);
  const store = await openConfiguredStore({ dataDir, databaseUrl });
  let service = await startService(dataDir, databaseUrl, LEASE_MS);
  try {
    const cfg = clientConfig(service.endpoint, account);
    await createBucket(cfg, 'crash-bucket');
    await putObject(cfg, 'crash-bucket', 'system.qcow2', system.file);
    await putObject(cfg, 'crash-bucket', 'data.qcow2', data.file);
    let client = ecsClient(service.hostPort, account);

    // Import: killed while the data disk (768 MiB to read and hash) is in progress, after the system disk's checkpoint.
    const imported = (await client.importImage(importRequest('crash-bucket', [{ object: 'system.qcow2' }, { object: 'data.qcow2' }], { imageName: 'survivor' }))).body;
    type Disks = Record<string, { manifestId: string; snapshotId?: string }>;
    const atKill = await waitFor(async () => {
      const s = await jobState(store, imported.taskId);
      return (s.result.disks as Disks | undefined)?.['0']?.snapshotId ? s : undefined;
    }, { what: 'the system disk\'s snapshot', intervalMs: 5 });
    await kill9(service);
    const afterKill = await jobState(store, imported.taskId);
    assert.equal(afterKill.job.state, 'running', 'killed mid-task');
    assert.equal((afterKill.result.disks as Disks)['1']?.snapshotId, undefined, 'the data disk was not finished');
    const image = await store.db.selectFrom('images').selectAll().where('id', '=', imported.imageId).executeTakeFirstOrThrow();
    assert.equal(image.status, 'Creating');
    const system0 = (atKill.result.disks as Disks)['0'];

    service = await startService(dataDir, databaseUrl, LEASE_MS);
    client = ecsClient(service.hostPort, account);
    const done = await settledImage(client, imported.imageId);
    assert.equal(done.status, 'Available', service.output());
    const finished = await jobState(store, imported.taskId);
    assert.equal(finished.job.state, 'succeeded');
    assert.equal(finished.job.attempts, 2, 'the same task resumed in the new process');
    assert.deepEqual((finished.result.disks as Disks)['0'], system0, 'the system disk was not imported again');
    assert.equal(done.diskDeviceMappings.diskDeviceMapping[0].snapshotId, system0.snapshotId);
    const snapshot0 = await store.db.selectFrom('snapshots').select('manifest_id').where('id', '=', system0.snapshotId!).executeTakeFirstOrThrow();
    assert.equal(snapshot0.manifest_id, system0.manifestId);

    // Export: killed while the data disk's object is being written, after the system disk's object is complete.
    const exported = (await client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId: imported.imageId, OSSBucket: 'crash-bucket', imageFormat: 'qcow2', OSSPrefix: 'crash' }))).body;
    const bucketDir = path.join(dataDir, 'buckets', 'crash-bucket');
    const keys = [`crash_${imported.imageId}_${exported.taskId}.qcow2`, `crash_${imported.imageId}_${exported.taskId}_1.qcow2`];
    await waitFor(async () => ((await jobState(store, exported.taskId)).result.done as number[] | undefined)?.includes(0) ? true : undefined, { what: 'the system disk object', intervalMs: 5 });
    await kill9(service);
    assert.equal((await jobState(store, exported.taskId)).job.state, 'running', 'killed mid-export');
    assert.ok(fs.existsSync(path.join(bucketDir, keys[0])));
    assert.equal(fs.existsSync(path.join(bucketDir, keys[1])), false, 'no partial object under the final name');
    const firstObject = fs.statSync(path.join(bucketDir, keys[0]));

    service = await startService(dataDir, databaseUrl, LEASE_MS);
    client = ecsClient(service.hostPort, account);
    const task = await settledTask(client, exported.taskId);
    assert.equal(task.taskStatus, 'Finished', service.output());
    assert.equal((await jobState(store, exported.taskId)).job.attempts, 2);
    assert.equal(fs.statSync(path.join(bucketDir, keys[0])).ino, firstObject.ino, 'the finished object was not written again');
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'tmp')).filter((f) => f.startsWith('export-')), [], 'the crashed attempt\'s temp file is gone');
    const out = [path.join(fixtures, 'out-system.qcow2'), path.join(fixtures, 'out-data.qcow2')];
    const cfg2 = clientConfig(service.endpoint, account);
    await getObject(cfg2, 'crash-bucket', keys[0], out[0]);
    await getObject(cfg2, 'crash-bucket', keys[1], out[1]);
    assert.ok(sameContent(out[0], 'qcow2', system.raw, 'raw'), 'the system disk came back intact');
    assert.ok(sameContent(out[1], 'qcow2', data.raw, 'raw'), 'the data disk came back intact');

    await stop(service);
    await assertNoLeaks(store, dataDir, REGION);
  } finally {
    if (running(service)) await kill9(service);
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(fixtures, { recursive: true, force: true });
  }
}

test('sqlite: kill -9 during an import and during an export; both tasks resume and finish cleanly', { timeout: 240_000 }, async () => {
  await crashDuringImportAndExport('');
});

test('postgres: kill -9 during an import and during an export; both tasks resume and finish cleanly', {
  timeout: 240_000,
  skip: requires('postgres'),
}, async () => {
  const pg = await freshPostgresDatabase(postgresBaseUrl()!);
  try {
    await crashDuringImportAndExport(pg.url);
  } finally {
    await pg.drop();
  }
});
