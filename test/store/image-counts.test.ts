/**
 * `image_counts` (migration 0013) against the rows it counts: inserts, status and owner changes, deletes, a write
 * rolled back, many small writes (PostgreSQL folds their deltas) and concurrent writers on separate connections.
 * Every check compares countImages with a real count(*) over `images`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { countImages, type ImageCountKey } from '../../src/store/image-counts.ts';
import { openStore } from '../../src/store/db.ts';
import type { Database } from '../../src/store/schema.ts';
import { storeBackends } from '../support/stores.ts';
import { insertCustomImage } from '../support/images.ts';

const R = 'cn-hangzhou';
const ALICE = '1000000000000001';
const BOB = '1000000000000002';

for (const backend of storeBackends()) {
  test(`${backend.name}: image_counts stays equal to a count of the rows through every kind of write`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    const other = backend.name === 'postgres' ? await openStore({ databaseUrl: store.url }) : store;
    const { db, dialect } = store;
    const keys: ImageCountKey[] = [
      { region: R, category: 'self', ownerId: ALICE, statuses: ['Available'] },
      { region: R, category: 'self', ownerId: ALICE },
      { region: R, category: 'self', ownerId: BOB, statuses: ['Available', 'Deprecated'] },
      { region: R, category: 'system', statuses: ['Available'] },
      { region: 'cn-beijing', category: 'self', ownerId: ALICE },
    ];
    async function real(k: ImageCountKey): Promise<number> {
      let q = db.selectFrom('images').select((eb) => eb.fn.countAll<number>().as('n')).where('region', '=', k.region).where('category', '=', k.category);
      if (k.ownerId) q = q.where('owner_id', '=', k.ownerId);
      if (k.statuses) q = q.where('status', 'in', k.statuses);
      return Number((await q.executeTakeFirstOrThrow()).n);
    }
    async function check(when: string): Promise<void> {
      for (const k of keys) assert.equal(await countImages(db, dialect, k), await real(k), `${when}: ${JSON.stringify(k)}`);
    }
    const id = (who: string, i: number) => `m-${who}${String(i).padStart(18, '0')}`;
    try {
      await check('empty');
      for (let i = 0; i < 10; i++) await insertCustomImage(db, { id: id('a', i), region: R, owner_id: ALICE, name: `a${i}`, status: i % 3 ? 'Available' : 'Creating' });
      await insertCustomImage(db, { id: id('s', 0), region: R, owner_id: BOB, name: 'sys', category: 'system' });
      await check('after inserts');
      await db.updateTable('images').set({ status: 'Available' }).where('status', '=', 'Creating').execute();
      await db.updateTable('images').set({ progress: 50 }).execute(); // no counted column changes
      await check('after status changes');
      await db.updateTable('images').set({ owner_id: BOB }).where('id', 'in', [id('a', 1), id('a', 2)]).execute();
      await db.updateTable('images').set({ status: 'Deprecated' }).where('id', '=', id('a', 1)).execute();
      await db.updateTable('images').set({ region: 'cn-beijing' }).where('id', '=', id('a', 3)).execute();
      await check('after owner and region changes');
      await db.deleteFrom('image_disks').where('image_id', '=', id('a', 4)).execute();
      await db.deleteFrom('images').where('id', '=', id('a', 4)).execute();
      await check('after a delete');
      await assert.rejects(db.transaction().execute(async (trx) => {
        await trx.updateTable('images').set({ status: 'Deprecated' }).where('owner_id', '=', ALICE).execute();
        throw new Error('rolled back');
      }));
      await check('after a rollback');

      // Many small writes on two connections at once (two nodes on PostgreSQL): deltas pile up and get folded.
      const writers = [store.db, other.db].map(async (w: Kysely<Database>, n) => {
        for (let i = 0; i < 60; i++) {
          await insertCustomImage(w, { id: id(`w${n}`, i), region: R, owner_id: ALICE, name: `w${n}-${i}` });
          if (i % 2) await w.updateTable('images').set({ status: 'Deprecated' }).where('id', '=', id(`w${n}`, i)).execute();
          if (i % 10 === 0) await countImages(w, dialect, keys[0]);
        }
      });
      await Promise.all(writers);
      await check('after concurrent writers');
      if (dialect === 'postgres') {
        const rows = await db.selectFrom('image_counts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        assert.ok(Number(rows.n) < 60, `deltas folded (${rows.n} rows)`);
      }
    } finally {
      if (other !== store) await other.close();
      await store.dispose();
    }
  });
}
