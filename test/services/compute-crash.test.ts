/**
 * kill -9 in the middle of disk writes never corrupts a snapshot or an image: their manifests and chunks
 * are immutable, every chunk still hashes to its ref, refcounts match the manifests, and no manifest is
 * held by fewer holders than point at it. (A crash between committing a new manifest and swapping it in
 * may leave that manifest held with nobody pointing at it: a leak, never a loss.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { launchInstances } from '../../src/services/compute/instances.ts';
import { writeDisk } from '../../src/services/compute/disk-content.ts';
import { snapshotDisk } from '../../src/services/snapshots/create.ts';
import { manifestDisk, manifestRefs } from '../../src/blobs/manifests.ts';
import { sha256Ref } from '../../src/blobs/refs.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { insertCustomImage } from '../support/images.ts';
import { PUBLIC_X64, pattern } from '../api/disks/support.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const writer = path.join(here, '..', 'api', 'disks', 'crash-writer.ts');
const repoRoot = path.resolve(here, '..', '..');

const open = (dataDir: string) => createApp(loadConfig({ data: dataDir, port: '0' }, {}), { logger: false, worker: false });

async function runAndKill(dataDir: string, diskId: string, afterWrites: number): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', writer, dataDir, diskId], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while ((out.match(/wrote/g) ?? []).length < afterWrites && proc.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(proc.exitCode, null, `the writer ended early:\n${out}`);
  // Land the kill at a random point inside the next write.
  await new Promise((r) => setTimeout(r, Math.random() * 150));
  proc.kill('SIGKILL');
  await exited;
}

async function readAll(app: App, manifestId: string): Promise<Buffer> {
  const { manifest } = (await app.services.dataPlane.manifests.load(manifestId))!;
  const disk = manifestDisk(manifest, app.services.dataPlane.store('cn-hangzhou'));
  const parts: Buffer[] = [];
  for (let i = 0; i < 16; i++) parts.push((await disk.readChunk(i)) ?? Buffer.alloc(CHUNK_SIZE));
  return Buffer.concat(parts);
}

/** Every chunk of every manifest hashes to its ref; refcounts equal occurrences; no manifest is under-held. */
async function assertConsistent(app: App): Promise<void> {
  const db = app.services.db;
  const store = app.services.dataPlane.store('cn-hangzhou');
  const occurrences = new Map<string, number>();
  for (const { id } of await db.selectFrom('manifests').select('id').execute()) {
    const m = (await app.services.dataPlane.manifests.load(id))!.manifest;
    for (const ref of manifestRefs(m)) occurrences.set(ref, (occurrences.get(ref) ?? 0) + 1);
  }
  for (const [ref, n] of occurrences) {
    assert.equal(sha256Ref(await store.get(ref)), ref, `chunk ${ref} is intact`);
    const row = await db.selectFrom('chunks').select('refcount').where('ref', '=', ref).executeTakeFirstOrThrow();
    assert.equal(row.refcount, n, `refcount of ${ref}`);
  }
  const users = new Map<string, number>();
  for (const r of [...await db.selectFrom('disks').select('manifest_id').execute(), ...await db.selectFrom('snapshots').select('manifest_id').execute()]) {
    users.set(r.manifest_id, (users.get(r.manifest_id) ?? 0) + 1);
  }
  for (const [id, n] of users) {
    const m = await db.selectFrom('manifests').select('holders').where('id', '=', id).executeTakeFirst();
    assert.ok(m && m.holders >= n, `manifest ${id} is held ${m?.holders ?? 0} times by ${n} users`);
  }
}

test('kill -9 during disk writes leaves snapshots, images and chunks intact', { timeout: 120_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-crash-'));
  try {
    let app = await open(dataDir);
    const owner = await createAccount(app.services, { name: 'alice' });
    const [instanceId] = await launchInstances(app.services, {
      region: 'cn-hangzhou', accountId: owner.accountId, imageId: PUBLIC_X64, instanceType: 'ecs.g7.large', amount: 1, status: 'Running',
      systemDisk: {}, dataDisks: [], tags: [],
    });
    const disk = await app.services.db.selectFrom('disks').selectAll().where('instance_id', '=', instanceId).executeTakeFirstOrThrow();
    const base = pattern(16 * CHUNK_SIZE, 7);
    await writeDisk(app.services, disk, 0, base);
    const snapId = await snapshotDisk(app.services, disk);
    const snap = await app.services.db.selectFrom('snapshots').selectAll().where('id', '=', snapId).executeTakeFirstOrThrow();
    const imageId = 'm-bp1crashtest0000000';
    await insertCustomImage(app.services.db, { id: imageId, region: 'cn-hangzhou', owner_id: owner.accountId, name: 'crash-image', size_gib: 40 });
    await app.services.db.updateTable('image_disks').set({ snapshot_id: snapId }).where('image_id', '=', imageId).execute();
    const body = (await app.services.db.selectFrom('manifests').select('body').where('id', '=', snap.manifest_id).executeTakeFirstOrThrow()).body;
    await app.close();

    await runAndKill(dataDir, disk.id, 2);
    await runAndKill(dataDir, disk.id, 3);

    app = await open(dataDir);
    try {
      const after = await app.services.db.selectFrom('manifests').select('body').where('id', '=', snap.manifest_id).executeTakeFirstOrThrow();
      assert.equal(after.body, body, 'the snapshot manifest did not change');
      assert.deepEqual(await readAll(app, snap.manifest_id), base, 'the snapshot reads as it was taken');
      await assertConsistent(app);
      // The image still launches with the snapshot's content, and the crashed disk takes writes again.
      const [again] = await launchInstances(app.services, {
        region: 'cn-hangzhou', accountId: owner.accountId, imageId, instanceType: 'ecs.g7.large', amount: 1, status: 'Running',
        systemDisk: {}, dataDisks: [], tags: [],
      });
      const clone = await app.services.db.selectFrom('disks').selectAll().where('instance_id', '=', again).executeTakeFirstOrThrow();
      assert.deepEqual(await readAll(app, clone.manifest_id), base);
      const crashed = await app.services.db.selectFrom('disks').selectAll().where('id', '=', disk.id).executeTakeFirstOrThrow();
      assert.ok(crashed.version >= 3, 'the writers got writes in before they were killed');
      await writeDisk(app.services, crashed, 0, Buffer.from('after the crash'));
      const now = await app.services.db.selectFrom('disks').select('manifest_id').where('id', '=', disk.id).executeTakeFirstOrThrow();
      assert.equal((await readAll(app, now.manifest_id)).subarray(0, 15).toString(), 'after the crash');
    } finally {
      await app.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
