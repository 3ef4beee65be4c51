/**
 * GC against imports, interleaved step by step on SQLite and PostgreSQL: no chunk that a committed
 * manifest references is ever deleted, whatever the order of claim / delete / forget and touch / upload /
 * mark / commit, including collectors that die mid-way and imports that outlive the grace period.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { storeBackends } from '../support/stores.ts';
import { collectGarbage, deleteClaimed } from '../../src/blobs/gc.ts';
import { ChunkNotLiveError } from '../../src/blobs/errors.ts';
import { sha256Ref } from '../../src/blobs/refs.ts';
import type { GarbageClaim, Manifest } from '../../src/blobs/types.ts';
import { openBlobEnv, REGION, type BlobEnv } from './env.ts';
import { seededRandom } from '../support/prng.ts';

const GRACE = 1_000;
const LEASE = 10_000;

const blob = (i: number) => Buffer.from(`chunk number ${i}`);
const refOf = (i: number) => sha256Ref(blob(i));
const manifestOf = (...ids: number[]): Manifest => ({
  virtualSize: ids.length * 4 * 1024 * 1024,
  entries: ids.map((i, index) => ({ index, ref: refOf(i), zeroMap: '0000000000000000' })),
});

/** An import of chunks `ids`, in explicit steps. */
function importer(env: BlobEnv, ids: number[]) {
  const refs = ids.map(refOf);
  let tickets = new Map<string, string>();
  return {
    async touch() {
      tickets = await env.index.touch(REGION, refs, new Map(refs.map((r) => [r, blob(0).length])));
      return tickets;
    },
    async upload() {
      for (const [ref] of tickets) await env.cas.put(ref, blob(ids[refs.indexOf(ref)]));
      await env.cas.flush();
    },
    mark: () => env.index.markStored(REGION, tickets),
    commit: () => env.repo.commit(REGION, manifestOf(...ids)),
    async all() {
      await this.touch();
      await this.upload();
      assert.deepEqual(await this.mark(), []);
      return this.commit();
    },
  };
}

const gcClaim = (env: BlobEnv) => env.index.claimGarbage(REGION, env.clock.now() - GRACE, 100);
const gcDelete = (env: BlobEnv, claim: GarbageClaim) => deleteClaimed(claim, { index: env.index, store: env.cas, now: env.clock.now });

async function settled(p: Promise<unknown>, ms = 40): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setTimeout(r, ms));
  return done;
}

for (const backend of storeBackends()) {
  describe(`GC vs import on ${backend.name}`, { skip: backend.skip }, () => {
    let env: BlobEnv;
    beforeEach(async () => {
      env = await openBlobEnv(backend, { leaseMs: LEASE });
    });
    afterEach(() => env.dispose());

    it('a touch after the claim waits for the deletion, then re-uploads', async () => {
      // A chunk whose last manifest was dropped: garbage once the grace period is over.
      await env.repo.release(await importer(env, [1]).all());
      env.clock.advance(GRACE + 1);

      const gc = await gcClaim(env);
      assert.deepEqual(gc.refs, [refOf(1)]);
      const imp = importer(env, [1]);
      const touching = imp.touch();
      assert.equal(await settled(touching), false, 'touch must wait while the row is deleting');
      const { deleted } = await gcDelete(env, gc);
      assert.deepEqual(deleted, [refOf(1)]);
      assert.equal(await settled(touching), false);
      await env.index.forget(REGION, deleted, gc.claimedAt);
      assert.deepEqual([...(await touching).keys()], [refOf(1)]);
      await imp.upload();
      assert.deepEqual(await imp.mark(), []);
      await imp.commit();
      assert.equal(await env.cas.has(refOf(1)), true);
      env.clock.advance(GRACE * 10);
      const run = await collectGarbage({ index: env.index, store: env.cas, region: REGION, graceMs: GRACE, now: env.clock.now });
      assert.equal(run.deleted, 0);
      assert.equal(await env.cas.has(refOf(1)), true);
    });

    it('a touch before the claim keeps the chunk out of the claim', async () => {
      await env.repo.release(await importer(env, [1]).all());
      env.clock.advance(GRACE + 1);
      const imp = importer(env, [1]);
      assert.equal((await imp.touch()).size, 0, 'live: nothing to upload');
      assert.deepEqual((await gcClaim(env)).refs, []);
      await imp.commit();
      assert.equal(await env.cas.has(refOf(1)), true);
    });

    it('a collector that dies after claiming: the touch takes over after the lease; the stale collector deletes nothing', async () => {
      await env.repo.release(await importer(env, [1]).all());
      env.clock.advance(GRACE + 1);
      const stale = await gcClaim(env);
      assert.deepEqual(stale.refs, [refOf(1)]);

      const imp = importer(env, [1]);
      const touching = imp.touch();
      assert.equal(await settled(touching), false);
      env.clock.advance(LEASE + 1);
      assert.deepEqual([...(await touching).keys()], [refOf(1)]);
      await imp.upload();
      assert.deepEqual(await imp.mark(), []);
      await imp.commit();

      // The collector wakes up and carries on with its old claim.
      const { deleted, expired } = await gcDelete(env, stale);
      assert.deepEqual(deleted, []);
      assert.deepEqual(expired, [refOf(1)]);
      await env.index.forget(REGION, stale.refs, stale.claimedAt);
      assert.equal(await env.cas.has(refOf(1)), true);
      assert.equal((await env.row(refOf(1)))?.state, 'live');
      assert.equal((await env.row(refOf(1)))?.refcount, 1);
    });

    it('a collector that stalls between delete and forget cannot forget the row out from under a newer claim', async () => {
      await env.repo.release(await importer(env, [1]).all());
      env.clock.advance(GRACE + 1);
      const slow = await gcClaim(env);
      assert.deepEqual((await gcDelete(env, slow)).deleted, [refOf(1)]);
      env.clock.advance(LEASE + 1); // slow stalls; its claim expires and another collector re-claims
      const fresh = await gcClaim(env);
      assert.deepEqual(fresh.refs, [refOf(1)]);
      await env.index.forget(REGION, slow.refs, slow.claimedAt); // slow wakes up
      const imp = importer(env, [1]);
      const touching = imp.touch();
      assert.equal(await settled(touching), false, 'the row is still claimed by the fresh collector');
      const { deleted } = await gcDelete(env, fresh);
      await env.index.forget(REGION, deleted, fresh.claimedAt);
      await touching;
      await imp.upload();
      assert.deepEqual(await imp.mark(), []);
      await imp.commit();
      assert.equal(await env.cas.has(refOf(1)), true);
    });

    it('an import that outlives the grace period fails to commit instead of referencing deleted bytes', async () => {
      const imp = importer(env, [1, 2]);
      await imp.touch();
      await imp.upload();
      env.clock.advance(GRACE + 1);
      const run = await collectGarbage({ index: env.index, store: env.cas, region: REGION, graceMs: GRACE, now: env.clock.now });
      assert.equal(run.deleted, 2);
      assert.deepEqual((await imp.mark()).sort(), [refOf(1), refOf(2)].sort());
      await assert.rejects(imp.commit(), ChunkNotLiveError);
      assert.equal((await env.meta.db.selectFrom('manifests').selectAll().execute()).length, 0);
    });

    it('two imports of the same new chunk both commit, whoever marks it first', async () => {
      const a = importer(env, [1]);
      const b = importer(env, [1]);
      const ta = await a.touch();
      const tb = await b.touch();
      assert.equal(ta.size, 1);
      assert.equal(tb.size, 1);
      await b.upload();
      assert.deepEqual(await b.mark(), []);
      await b.commit();
      await a.upload();
      assert.deepEqual(await a.mark(), []);
      await a.commit();
      assert.equal((await env.row(refOf(1)))?.refcount, 2);
    });

    it('randomised interleavings of importers and collectors never delete a referenced chunk', async () => {
      const seeds = backend.name === 'sqlite' ? [1, 2, 3] : [4, 5];
      for (const seed of seeds) await interleave(env, seed, 120);
      await sweepEverything(env);
    });
  });
}


/**
 * Actors run until their next `gate`; the scheduler releases one gated actor at a time in a random order
 * and moves the clock between steps. Importers may block inside touch (waiting for a deletion), so the
 * scheduler only waits a little for them; collectors always run a whole step.
 */
async function interleave(env: BlobEnv, seed: number, steps: number) {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const held = new Map<string, number[]>(); // manifest id -> chunk ids
  const gates = new Map<string, () => void>();
  let arrived: (() => void) | undefined;
  let stop = false;
  const gate = (name: string) =>
    new Promise<void>((resume) => {
      gates.set(name, resume);
      arrived?.();
    });

  const violations: string[] = [];
  async function checkHeld() {
    for (const [id, ids] of held) {
      for (const i of ids) if (!(await env.cas.has(refOf(i)))) violations.push(`manifest ${id} lost chunk ${i}`);
    }
  }

  async function importerActor(name: string) {
    while (!stop) {
      await gate(name);
      const ids = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => 1 + Math.floor(rnd() * 6));
      const imp = importer(env, ids);
      await imp.touch();
      await gate(name);
      await imp.upload();
      await gate(name);
      if ((await imp.mark()).length > 0) continue; // collected meanwhile: this import gives up
      await gate(name);
      try {
        held.set(await imp.commit(), ids);
      } catch (err) {
        if (!(err instanceof ChunkNotLiveError)) throw err;
      }
      await gate(name);
      if (held.size > 0 && rnd() < 0.6) {
        const id = pick([...held.keys()]);
        held.delete(id);
        await env.repo.release(id);
      }
    }
  }

  async function collectorActor(name: string, diesSometimes: boolean) {
    while (!stop) {
      await gate(name);
      const claim = await gcClaim(env);
      if (claim.refs.length === 0) continue;
      await gate(name);
      if (diesSometimes && rnd() < 0.3) continue; // died: the claim is abandoned
      const { deleted } = await gcDelete(env, claim);
      for (const ref of deleted) {
        const row = await env.row(ref);
        if (row?.state !== 'deleting') violations.push(`collector deleted ${ref} while its row was ${row?.state}`);
      }
      await checkHeld();
      await gate(name);
      await env.index.forget(REGION, deleted, claim.claimedAt);
    }
  }

  const actors = new Map<string, Promise<void>>([
    ['imp-a', importerActor('imp-a')],
    ['imp-b', importerActor('imp-b')],
    ['gc-1', collectorActor('gc-1', false)],
    ['gc-2', collectorActor('gc-2', true)],
  ]);
  const finished = new Set<string>();
  for (const [name, p] of actors) {
    p.catch((err) => violations.push(`${name} crashed: ${err.stack ?? err}`)).finally(() => {
      finished.add(name);
      arrived?.();
    });
  }

  for (let step = 0; step < steps && violations.length === 0; step++) {
    const r = rnd();
    if (r < 0.15) env.clock.advance(GRACE + 1);
    else if (r < 0.2) env.clock.advance(LEASE + 1);
    else if (r < 0.5) env.clock.advance(Math.floor(rnd() * 200));
    // Nobody at a gate: importers wait in touch for a claim a dead collector left; let its lease run out.
    while (gates.size === 0 && finished.size < actors.size) {
      await Promise.race([new Promise<void>((resolve) => (arrived = resolve)), new Promise((r) => setTimeout(r, 50))]);
      if (gates.size === 0) env.clock.advance(LEASE + 1);
    }
    if (gates.size === 0) break;
    const name = pick([...gates.keys()]);
    const resume = gates.get(name)!;
    gates.delete(name);
    const next = new Promise<void>((resolve) => (arrived = resolve));
    resume();
    if (name.startsWith('gc')) {
      while (!gates.has(name) && !finished.has(name)) await new Promise<void>((resolve) => (arrived = resolve));
    } else {
      await Promise.race([next, new Promise((r) => setTimeout(r, 15))]);
    }
    await checkHeld();
  }
  // Wind down: let blocked touches finish by expiring leases, then stop every actor at its gate.
  stop = true;
  for (;;) {
    env.clock.advance(LEASE + 1);
    for (const [, resume] of gates) resume();
    gates.clear();
    const running = await Promise.race([Promise.all(actors.values()).then(() => false), new Promise((r) => setTimeout(() => r(true), 20))]);
    if (!running) break;
  }
  await checkHeld();
  assert.deepEqual(violations, [], `seed ${seed}`);
  for (const id of held.keys()) await env.repo.release(id);
}

/** After everything is released, one GC (with the orphan sweep) empties store and index. */
async function sweepEverything(env: BlobEnv) {
  env.clock.advance(LEASE + GRACE + 1);
  await collectGarbage({ index: env.index, store: env.cas, region: REGION, graceMs: GRACE, now: env.clock.now, sweepOrphans: true });
  const left: string[] = [];
  for await (const r of env.cas.list()) left.push(r);
  assert.deepEqual(left, []);
  assert.deepEqual(await env.rows(), []);
}
