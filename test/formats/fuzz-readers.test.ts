/**
 * Fuzzing of every reader (issue 11): seeded, generated damage to small valid qcow2, VHD, VHDX, VMDK, ISO and raw
 * files, and random bytes behind each format's magic. Every case must be read in full or refused with a
 * FormatError — never another exception, a read outside the file, more reading than a few times the file, or a
 * case that does not finish (fast-check's per-case timeout). The budget is fixed and the seed too, so a failure
 * reproduces; FUZZ_RUNS and FUZZ_SEED widen a local run. A failure prints its case (seed image, mutations): keep it
 * as a regression test that rebuilds the file with `applyMutations` and expects the refusal, next to the fix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { applyMutations, EXTEND_ROOM, mutation } from './fuzz/mutations.ts';
import { fuzzSeeds, MAGICS } from './fuzz/seeds.ts';
import { exercise, type Outcome } from './fuzz/exercise.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x1111);
const CASE_TIMEOUT_MS = 2_000;
const seeds = fuzzSeeds();
const scratch = Buffer.allocUnsafe(Math.max(...seeds.map((s) => s.file.length)) + EXTEND_ROOM);

/** Per kind of input, how many cases were read in full and how many refused (and why). */
const tally = new Map<string, { accepted: number; refused: Map<string, number> }>();

function count(kind: string, outcome: Outcome): void {
  const t = tally.get(kind) ?? { accepted: 0, refused: new Map() };
  if (outcome.result === 'accepted') t.accepted++;
  else t.refused.set(outcome.reason, (t.refused.get(outcome.reason) ?? 0) + 1);
  tally.set(kind, t);
}

const damagedSeed = fc.record({
  seed: fc.nat(seeds.length - 1),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 6 }),
  resign: fc.boolean(),
});

const randomBytes = fc.record({
  magic: fc.nat(MAGICS.length - 1),
  body: fc.uint8Array({ maxLength: 4096 }),
  sectorPadded: fc.boolean(),
});

function fileOfRandom(r: { magic: number; body: Uint8Array; sectorPadded: boolean }): Buffer {
  const file = Buffer.concat([MAGICS[r.magic][1], r.body]);
  return r.sectorPadded ? Buffer.concat([file, Buffer.alloc((512 - (file.length % 512)) % 512)]) : file;
}

test(`every seed is read in full as its own format`, async () => {
  for (const s of seeds) {
    const outcome = await exercise(s.file);
    assert.deepEqual(outcome.result === 'accepted' && outcome.format, s.format, `${s.name}: ${JSON.stringify(outcome)}`);
  }
});

test(`${RUNS} damaged and random files are each read in bounds or refused with a FormatError`, { timeout: 10 * 60_000 }, async () => {
  const input = fc.oneof(
    { weight: 4, arbitrary: damagedSeed.map((d) => ({ kind: seeds[d.seed].name, case: d })) },
    { weight: 1, arbitrary: randomBytes.map((r) => ({ kind: `random bytes after ${MAGICS[r.magic][0]}`, case: r })) },
  );
  await fc.assert(
    fc.asyncProperty(input, async ({ kind, case: c }) => {
      const file = 'mutations' in c
        ? applyMutations(seeds[c.seed].file, c.mutations, c.resign ? seeds[c.seed].resign : 'none', scratch)
        : fileOfRandom(c);
      count(kind, await exercise(file));
    }),
    { numRuns: RUNS, seed: SEED, timeout: CASE_TIMEOUT_MS, endOnFailure: true },
  );

  const lines = [...tally].sort().map(([kind, t]) =>
    `  ${kind}: ${t.accepted} read, ${[...t.refused.values()].reduce((a, b) => a + b, 0)} refused ` +
    `(${[...t.refused].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(', ')})`);
  console.log(`fuzz: ${RUNS} cases, seed ${SEED}\n${lines.join('\n')}`);
  // The damage must not stop at detection: each seed yields files that are still read in full and files refused.
  if (RUNS >= 20_000) {
    for (const s of seeds) {
      const t = tally.get(s.name);
      assert.ok(t && t.accepted > 0 && t.refused.size > 0, `${s.name}: ${t?.accepted ?? 0} read, none refused`);
    }
  }
});
