import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeBackends } from '../support/stores.ts';
import { ManifestRepo } from '../../src/blobs/manifests.ts';
import { KyselyChunkIndex } from '../../src/blobs/chunk-index.ts';
import { sweepOrphanManifests } from '../../src/services/manifest-sweep.ts';
import { insertSnapshot } from '../../src/services/snapshots/repo.ts';
import { CHUNK_SIZE } from '../../src/domain/disk.ts';

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

      assert.equal(await sweepOrphanManifests({ db, clock: { now: () => now } }, { graceMs: 3600_000 }), 0, 'young manifests are left alone (a job may be about to attach them)');
      now += 3600_001;
      assert.equal(await sweepOrphanManifests({ db, clock: { now: () => now } }, { graceMs: 3600_000 }), 1);
      assert.equal(await repo.load(orphan), undefined);
      assert.ok(await repo.load(kept), 'a manifest a snapshot points at stays');
      const refs = Object.fromEntries((await db.selectFrom('chunks').select(['ref', 'refcount']).execute()).map((r) => [r.ref, r.refcount]));
      assert.deepEqual(refs, { [REF_A]: 1, [REF_B]: 0 }, 'the orphan\'s chunk refs were released, the kept manifest\'s stay');
    } finally {
      await store.dispose();
    }
  });
}
