import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeBackends } from '../support/stores.ts';
import { ManifestRepo } from '../../src/blobs/manifests.ts';
import { KyselyChunkIndex } from '../../src/blobs/chunk-index.ts';
import { sweepOrphanManifests } from '../../src/services/manifest-sweep.ts';
import { insertSnapshot } from '../../src/services/snapshots/repo.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';
import { holdForRead } from '../../src/blobs/read-holds.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.ts';

const ZERO_MAP = '0000000000000000';

async function liveChunks(index: KyselyChunkIndex, refs: string[]): Promise<void> {
  await index.markStored('r', await index.touch('r', refs, new Map(refs.map((r) => [r, CHUNK_SIZE]))));
}

async function refcounts(db: Kysely<Database>): Promise<Record<string, number>> {
  return Object.fromEntries((await db.selectFrom('chunks').select(['ref', 'refcount']).execute()).map((r) => [r.ref, r.refcount]));
}

const REF_A = 'sha256:' + 'a'.repeat(64);
const REF_B = 'sha256:' + 'b'.repeat(64);

for (const backend of storeBackends()) {
  test(`${backend.name}: manifests nobody holds after a crash are released once past the grace period`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const db = store.db;
      let now = 1_000_000;
      const index = new KyselyChunkIndex(db, { now: () => now });
      const repo = new ManifestRepo(db, { now: () => now });
      const tickets = await index.touch('r', [REF_A, REF_B], new Map([[REF_A, CHUNK_SIZE], [REF_B, CHUNK_SIZE]]));
      await index.markStored('r', tickets);
      const orphan = await repo.commit('r', { virtualSize: 2 * CHUNK_SIZE, entries: [{ index: 0, ref: REF_A, zeroMap: '0000000000000000' }, { index: 1, ref: REF_B, zeroMap: '0000000000000000' }] });
      const kept = await repo.commit('r', { virtualSize: CHUNK_SIZE, entries: [{ index: 0, ref: REF_A, zeroMap: '0000000000000000' }] });
      await insertSnapshot(db, { id: 's-kept', region: 'r', owner_id: '1', manifest_id: kept }, now);
      // A Glance image's uploaded file (a qcow2, say) is a manifest that only its glance_images row points at.
      const file = await repo.commit('r', { virtualSize: CHUNK_SIZE, entries: [{ index: 0, ref: REF_B, zeroMap: '0000000000000000' }] });
      await db.insertInto('glance_images').values({ image_id: 'm-glancefile', file_manifest_id: file } as never).execute();

      assert.equal(await sweepOrphanManifests({ db, clock: { now: () => now } }, { graceMs: 3600_000 }), 0, 'young manifests are left alone (a job may be about to attach them)');
      now += 3600_001;
      assert.equal(await sweepOrphanManifests({ db, clock: { now: () => now } }, { graceMs: 3600_000 }), 1);
      assert.equal(await repo.load(orphan), undefined);
      assert.ok(await repo.load(kept), 'a manifest a snapshot points at stays');
      assert.ok(await repo.load(file), 'a Glance image\'s file manifest stays');
      const refs = Object.fromEntries((await db.selectFrom('chunks').select(['ref', 'refcount']).execute()).map((r) => [r.ref, r.refcount]));
      assert.deepEqual(refs, { [REF_A]: 1, [REF_B]: 1 }, 'the orphan\'s chunk refs were released, the kept manifests\' stay');
    } finally {
      await store.dispose();
    }
  });

  test(`${backend.name}: a reader's hold keeps a manifest while its lease runs; a dead reader's hold comes back after it`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const db = store.db;
      let now = 1_000_000;
      const clock = { now: () => now };
      const index = new KyselyChunkIndex(db, clock);
      const repo = new ManifestRepo(db, clock);
      await liveChunks(index, [REF_A, REF_B]);
      // Two manifests a disk no longer points at, each still read by an export.
      const readByLiveNode = await repo.commit('r', { virtualSize: CHUNK_SIZE, entries: [{ index: 0, ref: REF_A, zeroMap: ZERO_MAP }] });
      const readByDeadNode = await repo.commit('r', { virtualSize: CHUNK_SIZE, entries: [{ index: 0, ref: REF_B, zeroMap: ZERO_MAP }] });
      const lease = 2 * 3600_000;
      const live = await holdForRead(db, readByLiveNode, () => now, lease);
      const dead = await holdForRead(db, readByDeadNode, () => now, lease);
      assert.ok(live && dead);
      await repo.release(readByLiveNode); // the disk moved on: only the readers hold them now
      await repo.release(readByDeadNode);
      now += 3600_001;
      const sweep = () => sweepOrphanManifests({ db, clock }, { graceMs: 3600_000 });
      assert.equal(await sweep(), 0, 'held under valid leases');
      // The live reader renews its lease (its timer does this every lease / 3); the dead one cannot.
      await db.updateTable('read_holds').set({ expires_at: now + lease }).where('manifest_id', '=', readByLiveNode).execute();
      now += lease - 1;
      assert.equal(await sweep(), 1, 'the expired hold is reclaimed');
      assert.equal(await repo.load(readByDeadNode), undefined);
      assert.ok(await repo.load(readByLiveNode));
      assert.deepEqual(await refcounts(db), { [REF_A]: 1, [REF_B]: 0 });
      await dead.release(); // a reader that was only slow gives back nothing twice
      await live.release();
      assert.equal(await repo.load(readByLiveNode), undefined, 'the last reader\'s release frees the manifest');
      assert.deepEqual(await refcounts(db), { [REF_A]: 0, [REF_B]: 0 });
      assert.equal((await db.selectFrom('read_holds').selectAll().execute()).length, 0);
    } finally {
      await store.dispose();
    }
  });

  test(`${backend.name}: a dead reader's hold on a manifest a snapshot still holds is given back`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const db = store.db;
      let now = 1_000_000;
      const clock = { now: () => now };
      const index = new KyselyChunkIndex(db, clock);
      const repo = new ManifestRepo(db, clock);
      await liveChunks(index, [REF_A]);
      const kept = await repo.commit('r', { virtualSize: CHUNK_SIZE, entries: [{ index: 0, ref: REF_A, zeroMap: ZERO_MAP }] });
      await insertSnapshot(db, { id: 's-exported', region: 'r', owner_id: '1', manifest_id: kept }, now);
      const lease = 60_000;
      const dead = await holdForRead(db, kept, () => now, lease); // an export on a node that is then killed
      const live = await holdForRead(db, kept, () => now, 10 * lease);
      assert.ok(dead && live);
      const holders = async () => (await db.selectFrom('manifests').select('holders').where('id', '=', kept).executeTakeFirstOrThrow()).holders;
      assert.equal(await holders(), 3);
      const sweep = () => sweepOrphanManifests({ db, clock }, { graceMs: 3600_000 });
      assert.equal(await sweep(), 0, 'both leases are valid');
      now += lease;
      assert.equal(await sweep(), 1, 'the dead reader\'s hold is given back');
      assert.equal(await holders(), 2, 'the snapshot and the live reader');
      await dead.release();
      assert.equal(await holders(), 2, 'a reader that was only slow gives back nothing twice');
      await live.release();
      assert.equal(await holders(), 1);
      assert.deepEqual(await refcounts(db), { [REF_A]: 1 });
    } finally {
      await store.dispose();
    }
  });

  test(`${backend.name}: a sweep racing an attach never leaves a snapshot without its manifest`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const db = store.db;
      let now = 1_000_000;
      const clock = { now: () => now };
      const index = new KyselyChunkIndex(db, clock);
      const repo = new ManifestRepo(db, clock);
      await liveChunks(index, [REF_A]);
      const rounds = 80;
      const ids: string[] = [];
      for (let k = 0; k < rounds; k++) ids.push(await repo.commit('r', { virtualSize: CHUNK_SIZE, entries: [{ index: 0, ref: REF_A, zeroMap: ZERO_MAP }] }));
      now += 3600_001;
      // An attach takes a hold on an existing manifest in the transaction that points a snapshot at it.
      const results = await Promise.all([
        ...ids.map((id, k) => db.transaction().execute(async (trx) => {
          if (!(await new ManifestRepo(trx, clock).hold(id))) return false;
          await insertSnapshot(trx, { id: `s-attach${k}`, region: 'r', owner_id: '1', manifest_id: id }, now);
          return true;
        })),
        sweepOrphanManifests({ db, clock }, { graceMs: 3600_000 }),
        sweepOrphanManifests({ db, clock }, { graceMs: 3600_000 }),
      ]);
      const attached = results.slice(0, rounds) as boolean[];
      const snapshots = await db.selectFrom('snapshots').select(['id', 'manifest_id']).execute();
      assert.equal(snapshots.length, attached.filter(Boolean).length);
      for (const s of snapshots) {
        const m = await repo.load(s.manifest_id);
        assert.ok(m, `snapshot ${s.id} lost its manifest`);
        assert.equal(m.holders, 2, 'the commit\'s hold and the attach\'s');
      }
      const { n } = await db.selectFrom('manifests').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal((await refcounts(db))[REF_A], Number(n), 'one ref per surviving manifest');
    } finally {
      await store.dispose();
    }
  });
}
