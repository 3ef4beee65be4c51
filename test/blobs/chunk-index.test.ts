/** KyselyChunkIndex on SQLite and PostgreSQL: states, refcounts, claims. */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { storeBackends } from '../support/stores.ts';
import { ChunkNotLiveError } from '../../src/blobs/errors.ts';
import { sha256Ref } from '../../src/blobs/refs.ts';
import { openBlobEnv, REGION, type BlobEnv } from './env.ts';

const ref = (i: number) => sha256Ref(Buffer.from(`chunk ${i}`));
const sizes = (...refs: string[]) => new Map(refs.map((r) => [r, 1000]));

/** touch + upload (none here, rows only) + markStored: the chunks are live. */
async function live(env: BlobEnv, ...refs: string[]) {
  const tickets = await env.index.touch(REGION, refs, sizes(...refs));
  assert.deepEqual(await env.index.markStored(REGION, tickets), []);
}

for (const backend of storeBackends()) {
  describe(`KyselyChunkIndex on ${backend.name}`, { skip: backend.skip }, () => {
    let env: BlobEnv;
    beforeEach(async () => {
      env = await openBlobEnv(backend);
    });
    afterEach(() => env.dispose());

    it('touch inserts pending rows that need upload until marked stored', async () => {
      const [a, b] = [ref(1), ref(2)];
      const first = await env.index.touch(REGION, [a, b, a], sizes(a, b));
      assert.deepEqual([...first.keys()].sort(), [a, b].sort());
      assert.match(first.get(a)!, /^p:[0-9a-f]{12}$/);
      assert.equal((await env.row(a))?.state, first.get(a));
      assert.equal((await env.row(a))?.size, 1000);
      // Another import touching before the bytes are confirmed must upload too (and may mark them).
      env.clock.advance(5);
      const second = await env.index.touch(REGION, [a], sizes(a));
      assert.equal(second.get(a), first.get(a));
      assert.equal((await env.row(a))?.touched_at, env.clock.now());
      assert.deepEqual(await env.index.markStored(REGION, first), []);
      assert.equal((await env.row(a))?.state, 'live');
      assert.deepEqual(await env.index.markStored(REGION, second), [], 'marking an already live row is fine');
      assert.equal((await env.index.touch(REGION, [a, b], sizes(a, b))).size, 0);
    });

    it('counts references per occurrence and never goes below zero', async () => {
      const [a, b] = [ref(1), ref(2)];
      await live(env, a, b);
      await env.index.addRefs(REGION, [a, a, b, a]);
      assert.equal((await env.row(a))?.refcount, 3);
      assert.equal((await env.row(b))?.refcount, 1);
      env.clock.advance(100);
      await env.index.releaseRefs(REGION, [a, b]);
      assert.equal((await env.row(a))?.refcount, 2);
      assert.equal((await env.row(b))?.refcount, 0);
      assert.equal((await env.row(b))?.touched_at, env.clock.now(), 'release restarts the grace period');
      await env.index.releaseRefs(REGION, [b]);
      assert.equal((await env.row(b))?.refcount, 0);
    });

    it('addRefs changes nothing when one ref is not live', async () => {
      const [a, b, c] = [ref(1), ref(2), ref(3)];
      await live(env, a);
      await env.index.touch(REGION, [b], sizes(b)); // pending, never marked
      await assert.rejects(env.index.addRefs(REGION, [a, b, c]), (err: unknown) => {
        assert.ok(err instanceof ChunkNotLiveError);
        assert.deepEqual(err.refs.sort(), [b, c].sort());
        return true;
      });
      assert.equal((await env.row(a))?.refcount, 0);
    });

    it('claims only unreferenced rows past the cutoff, once, up to the limit', async () => {
      const refs = [1, 2, 3, 4, 5].map(ref);
      await live(env, ...refs);
      await env.index.addRefs(REGION, [refs[0]]);
      env.clock.advance(1000);
      await env.index.touch(REGION, [refs[1]], sizes(refs[1])); // fresh touch: inside the grace period
      const cutoff = env.clock.now() - 500;
      const first = await env.index.claimGarbage(REGION, cutoff, 2);
      assert.equal(first.refs.length, 2);
      assert.equal(first.claimedAt, env.clock.now());
      env.clock.advance(1);
      const second = await env.index.claimGarbage(REGION, cutoff, 10);
      assert.deepEqual([...first.refs, ...second.refs].sort(), [refs[2], refs[3], refs[4]].sort());
      assert.deepEqual((await env.index.claimGarbage(REGION, cutoff, 10)).refs, []);
      for (const r of first.refs) assert.equal((await env.row(r))?.state, 'deleting');
      assert.equal((await env.row(refs[0]))?.state, 'live');
      await env.index.forget(REGION, [...first.refs, refs[0], refs[1]], first.claimedAt);
      assert.deepEqual((await env.rows()).map((r) => r.ref).sort(), [refs[0], refs[1], ...second.refs].sort());
      await env.index.forget(REGION, second.refs, first.claimedAt);
      assert.equal((await env.rows()).length, 2 + second.refs.length, 'forget only removes rows of its own claim');
    });

    it('reclaims a deletion whose lease expired (the collector died); the dead claim can no longer forget', async () => {
      const a = ref(1);
      await live(env, a);
      env.clock.advance(1000);
      const dead = await env.index.claimGarbage(REGION, env.clock.now(), 10);
      assert.deepEqual(dead.refs, [a]);
      assert.deepEqual((await env.index.claimGarbage(REGION, env.clock.now(), 10)).refs, []);
      env.clock.advance(env.index.leaseMs + 1);
      const again = await env.index.claimGarbage(REGION, env.clock.now(), 10);
      assert.deepEqual(again.refs, [a]);
      await env.index.forget(REGION, [a], dead.claimedAt);
      assert.equal((await env.row(a))?.state, 'deleting', 'still claimed by the live collector');
      await env.index.forget(REGION, [a], again.claimedAt);
      assert.equal(await env.row(a), undefined);
    });

    it('markStored fails for a row that was collected and re-created meanwhile', async () => {
      const a = ref(1);
      const mine = await env.index.touch(REGION, [a], sizes(a));
      env.clock.advance(1000);
      const claim = await env.index.claimGarbage(REGION, env.clock.now(), 10);
      assert.deepEqual(claim.refs, [a]);
      await env.index.forget(REGION, [a], claim.claimedAt);
      const theirs = await env.index.touch(REGION, [a], sizes(a));
      assert.notEqual(theirs.get(a), mine.get(a));
      assert.deepEqual(await env.index.markStored(REGION, mine), [a]);
      assert.notEqual((await env.row(a))?.state, 'live');
    });

    it('claims orphans (bytes without a row) but never a ref that has a row', async () => {
      const [a, b] = [ref(1), ref(2)];
      await live(env, a);
      assert.deepEqual((await env.index.claimOrphans(REGION, [a, b])).refs, [b]);
      assert.equal((await env.row(b))?.state, 'deleting');
      assert.equal((await env.row(a))?.state, 'live');
    });

    it('keeps regions apart', async () => {
      const a = ref(1);
      await live(env, a);
      await env.index.addRefs(REGION, [a]);
      await assert.rejects(env.index.addRefs('other-region', [a]), ChunkNotLiveError);
      assert.equal((await env.index.touch('other-region', [a], sizes(a))).size, 1);
    });
  });
}
