/**
 * The Glance lookup by ID reads the image, its glance_images row and its tag keys as one JSON document
 * (services/glance/rows.ts): on both engines it must give back exactly the rows the tables hold, NULLs, big sizes
 * and text beyond Latin-1 included, and the tags in key order; grouped with other requests' lookups, the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { glanceLookups, imageWithGlanceRow, imagesWithGlanceRows } from '../../src/services/glance/rows.ts';
import { insertCustomImage } from '../support/images.ts';
import { storeBackends } from '../support/stores.ts';

for (const backend of storeBackends()) {
  test(`${backend.name}: the Glance lookup by ID gives the rows and tags the tables hold`, { skip: backend.skip }, async () => {
    const store = await backend.open();
    try {
      const { db } = store;
      await insertCustomImage(db, { id: 'm-glancerow1', region: 'r', owner_id: '1000000000000001', name: 'named "x" 位', description: 'line\nbreak', created_at: 1_700_000_000_123 });
      await insertCustomImage(db, { id: 'm-glancerow2', region: 'r', owner_id: '1000000000000001', name: 'plain ECS image' });
      const glance = {
        image_id: 'm-glancerow1', disk_format: 'qcow2', container_format: 'bare', visibility: 'shared', protected: 1, os_hidden: 0, min_disk: 3, min_ram: 512,
        size: 2 ** 40 + 7, virtual_size: null, checksum: 'c'.repeat(32), os_hash_algo: 'sha512', os_hash_value: 'f'.repeat(128), file_manifest_id: 'mf-1',
        phase: '', stage_path: '', stage_node: '', stage_md5: '', stage_sha512: '', properties: JSON.stringify({ 'owner_specified.openstack.object': 'images/x', note: 'ü位' }), locations: '[]',
      };
      await db.insertInto('glance_images').values(glance).execute();
      for (const key of ['zeta', 'alpha', 'Mid']) await db.insertInto('tags').values({ resource_id: 'm-glancerow1', resource_type: 'image', tag_key: key, tag_value: '' }).execute();

      const found = await imageWithGlanceRow(db, 'r', 'm-glancerow1');
      assert.ok(found);
      assert.deepEqual(found.image, await db.selectFrom('images').selectAll().where('id', '=', 'm-glancerow1').executeTakeFirstOrThrow());
      assert.deepEqual(found.glance, glance);
      // The database's own order of the keys (C/BINARY here), as a query sorting them gives.
      const keys = (await db.selectFrom('tags').select('tag_key').where('resource_id', '=', 'm-glancerow1').orderBy('tag_key').execute()).map((r) => r.tag_key);
      assert.deepEqual(found.tags, keys);
      // The reader by IDs (any region), which IMS's tag queries and the cache use.
      assert.deepEqual(await imagesWithGlanceRows(db, ['m-glancerow1', 'm-missing']), [found]);

      const plain = await imageWithGlanceRow(db, 'r', 'm-glancerow2');
      assert.deepEqual([plain?.glance, plain?.tags], [undefined, []], 'an ECS image has no glance row and no tags');
      assert.equal(await imageWithGlanceRow(db, 'other-region', 'm-glancerow1'), undefined, 'the region is part of the lookup');
      assert.equal(await imageWithGlanceRow(db, 'r', 'm-missing'), undefined);

      // Lookups that arrive together (one statement on PostgreSQL) each get what they get alone: the same ID twice,
      // another region, a missing ID.
      const lookups = glanceLookups(db, store.dialect);
      const asked: [string, string][] = [['r', 'm-glancerow1'], ['r', 'm-glancerow2'], ['r', 'm-glancerow1'], ['other-region', 'm-glancerow1'], ['r', 'm-missing']];
      const together = await Promise.all(asked.map(([region, id]) => lookups(region, id)));
      const alone = [];
      for (const [region, id] of asked) alone.push(await imageWithGlanceRow(db, region, id));
      assert.deepEqual(together, alone);
      assert.deepEqual(together.map((f) => f?.image.id), ['m-glancerow1', 'm-glancerow2', 'm-glancerow1', undefined, undefined]);
    } finally {
      await store.dispose();
    }
  });
}
