/** Issue 11: per-account limit on concurrent heavy requests, refused with Throttling.User. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountWork } from '../../src/services/account-work.ts';
import { ApiError } from '../../src/domain/errors.ts';

test('an account beyond its concurrent heavy requests gets Throttling.User; other accounts and later requests go through', async () => {
  const work = new AccountWork(2);
  const gates: (() => void)[] = [];
  const held = () => new Promise<void>((r) => gates.push(r));
  const a1 = work.run('A', held);
  const a2 = work.run('A', held);
  await assert.rejects(work.run('A', async () => 'never'), (e: unknown) => e instanceof ApiError && e.code === 'Throttling.User');
  assert.equal(await work.run('B', async () => 'b'), 'b', 'another account is not limited by A');
  gates.shift()!();
  await a1;
  assert.equal(await work.run('A', async () => 'again'), 'again', 'a slot frees when a request ends');
  gates.shift()!();
  await a2;
  // A failing request frees its slot too.
  await assert.rejects(work.run('A', async () => { throw new Error('boom'); }), /boom/);
  await Promise.all([work.run('A', async () => 1), work.run('A', async () => 2)]);
});

test('a held slot lasts until its release, which gives it back once however often it is called', () => {
  const work = new AccountWork(2);
  const first = work.hold('A');
  const second = work.hold('A');
  assert.throws(() => work.hold('A'), (e: unknown) => e instanceof ApiError && e.code === 'Throttling.User');
  first();
  first();
  assert.equal(work.inFlight('A'), 1, 'a second call of the same release frees nothing more');
  const third = work.hold('A');
  assert.throws(() => work.hold('A'), (e: unknown) => e instanceof ApiError && e.code === 'Throttling.User');
  second();
  third();
  assert.equal(work.inFlight('A'), 0);
});
