/**
 * Jobs that read chunks in one step and commit (or write) them in a later one, against a garbage collector
 * with a short grace period (200 ms, as the crash soak first ran it). The collector is run for real at the
 * worst moment of each job: the test hooks one call of the chunk store or index, moves the clock past the
 * grace period and collects. Every job must still end well, with every chunk of the result live and stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/domain/clock.ts';
import { collectGarbage } from '../../src/blobs/gc.ts';
import { deleteImage as deleteEcsImage } from '../../src/services/images/delete.ts';
import { deleteImage as deleteGlanceImage } from '../../src/services/glance/images.ts';
import { deleteSnapshot } from '../../src/services/snapshots/delete.ts';
import { createBucket } from '../../src/services/buckets/repo.ts';
import { decodeManifestBody } from '../../src/blobs/manifests.ts';
import { Ecs } from '../support/sdk.ts';
import { startServerWith, type TestWorld } from '../support/server.ts';
import { sampleDisk, seedSnapshot } from '../support/snapshots.ts';
import { settledImage, settledTask } from './transfer-support.ts';

const SRC = 'cn-hangzhou';
const DST = 'ap-southeast-1';
const GRACE_MS = 200;

/** Wall-clock time, plus whatever the test skips ahead. */
function movableClock(): Clock & { skip(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, skip: (ms) => { offset += ms; } };
}

interface Setup {
  world: TestWorld<'alice'>;
  clock: ReturnType<typeof movableClock>;
  imageId: string;
  snapshotId: string;
}

async function withImage(run: (s: Setup) => Promise<void>): Promise<void> {
  const clock = movableClock();
  const world = await startServerWith(['alice'], { clock, env: { IMAGEHOUSE_GC_GRACE_MS: String(GRACE_MS) } });
  try {
    const alice = world.accounts.alice;
    const { snapshotId } = await seedSnapshot(world.server, alice.accountId, SRC, sampleDisk(24, 7));
    const created = await world.ecs.alice.createImage(new Ecs.CreateImageRequest({ regionId: SRC, snapshotId, imageName: 'gc_window_src' }));
    assert.equal((await settledImage(world.ecs.alice, created.body.imageId, SRC)).status, 'Available');
    await run({ world, clock, imageId: created.body.imageId, snapshotId });
  } finally {
    await world.server.stop();
  }
}

/** Skips past the grace period and runs the region's collector, as the server's timer would. */
async function collectNow(s: Setup, region: string): Promise<number> {
  const { services } = s.world.server.app;
  s.clock.skip(GRACE_MS * 5);
  const r = await collectGarbage({ index: services.dataPlane.index, store: services.dataPlane.store(region), region, graceMs: GRACE_MS, now: () => s.clock.now() });
  return r.deleted;
}

/** Replaces `obj[name]` so that its first call (matching `when`) runs `before` or `after` it. */
function onFirstCall<T extends object, K extends keyof T>(obj: T, name: K, hook: { before?: () => Promise<void>; after?: () => Promise<void>; when?: (...args: any[]) => boolean }): { fired: () => boolean } {
  const original = (obj[name] as any).bind(obj);
  let fired = false;
  (obj as any)[name] = async (...args: any[]) => {
    const mine = !fired && (hook.when?.(...args) ?? true);
    if (mine) { fired = true; await hook.before?.(); }
    const out = await original(...args);
    if (mine) await hook.after?.();
    return out;
  };
  return { fired: () => fired };
}

async function copyAndCheck(s: Setup): Promise<void> {
  const client = s.world.ecs.alice;
  const copy = await client.copyImage(new Ecs.CopyImageRequest({ regionId: SRC, imageId: s.imageId, destinationRegionId: DST, destinationImageName: 'gc_window_dst' }));
  const done = await settledImage(client, copy.body.imageId, DST);
  assert.equal(done.status, 'Available', `copy ended ${done.status}`);
  await assertStored(s, DST, copy.body.imageId);
}

/** The image's manifest in `region`: every chunk live, referenced and stored. */
async function assertStored(s: Setup, region: string, imageId: string): Promise<void> {
  const { services } = s.world.server.app;
  const row = await services.db.selectFrom('image_disks as d').innerJoin('snapshots as sn', 'sn.id', 'd.snapshot_id').innerJoin('manifests as m', 'm.id', 'sn.manifest_id')
    .select(['m.virtual_size', 'm.body']).where('d.image_id', '=', imageId).executeTakeFirstOrThrow();
  const manifest = decodeManifestBody(Number(row.virtual_size), row.body);
  assert.ok(manifest.entries.length > 0);
  const store = services.dataPlane.store(region);
  for (const e of manifest.entries) {
    const chunk = await services.db.selectFrom('chunks').select(['state', 'refcount']).where('region', '=', region).where('ref', '=', e.ref).executeTakeFirstOrThrow();
    assert.equal(chunk.state, 'live');
    assert.ok(Number(chunk.refcount) > 0);
    assert.ok(await store.has(e.ref), `${e.ref} is stored`);
  }
}

test('CopyImage: GC collects the destination chunks while they upload (before they turn live); the copy retries them and succeeds', () =>
  withImage(async (s) => {
    const hook = onFirstCall(s.world.server.app.services.dataPlane.store(DST), 'flush', { before: async () => { assert.ok((await collectNow(s, DST)) > 0); } });
    await copyAndCheck(s);
    assert.ok(hook.fired());
  }));

test('CopyImage: GC collects the destination chunks after they turned live, before the manifest commit; the copy retries and succeeds', () =>
  withImage(async (s) => {
    const { index } = s.world.server.app.services.dataPlane;
    const hook = onFirstCall(index, 'markStored', { when: (region: string) => region === DST, after: async () => { assert.ok((await collectNow(s, DST)) > 0); } });
    await copyAndCheck(s);
    assert.ok(hook.fired());
  }));

test('CopyImage: the source image and snapshot are deleted and collected while the copy reads them; the copy held them and succeeds', () =>
  withImage(async (s) => {
    const { services } = s.world.server.app;
    const owner = s.world.accounts.alice.accountId;
    const hook = onFirstCall(services.dataPlane.store(SRC), 'get', {
      before: async () => {
        await deleteEcsImage(services, { region: SRC, imageId: s.imageId, owner, force: false });
        await deleteSnapshot(services, { accountId: owner, snapshotId: s.snapshotId });
        await collectNow(s, SRC);
      },
    });
    await copyAndCheck(s);
    assert.ok(hook.fired());
    // The copy's hold is gone with it: the source chunks are garbage now.
    assert.ok((await collectNow(s, SRC)) > 0);
  }));

test('ExportImage: the image (through Glance) and its snapshot are deleted and collected while the export reads them; the export held them and succeeds', () =>
  withImage(async (s) => {
    const { services } = s.world.server.app;
    const owner = s.world.accounts.alice.accountId;
    await createBucket(services, { name: 'gc-window', owner, region: SRC });
    const viewer = { id: owner, name: 'alice', kind: 'user' as const, isAdmin: false };
    const hook = onFirstCall(services.dataPlane.store(SRC), 'get', {
      before: async () => {
        await deleteGlanceImage(services, viewer, s.imageId);
        await deleteSnapshot(services, { accountId: owner, snapshotId: s.snapshotId });
        await collectNow(s, SRC);
      },
    });
    const client = s.world.ecs.alice;
    const started = await client.exportImage(new Ecs.ExportImageRequest({ regionId: SRC, imageId: s.imageId, OSSBucket: 'gc-window', imageFormat: 'raw' }));
    const task = await settledTask(client, started.body.taskId, SRC);
    assert.ok(hook.fired());
    assert.equal(task.taskStatus, 'Finished', JSON.stringify(task));
    assert.ok((await collectNow(s, SRC)) > 0);
  }));
