import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../support/server.ts';
import { postgresBaseUrl } from '../../support/stores.ts';

test('GET /healthz reports the store, every region\'s chunk store and the job worker, and 503 once the store is gone', async () => {
  const server = await startServer({ postgresBaseUrl: postgresBaseUrl() });
  let closed = false;
  try {
    const res = await fetch(`${server.endpoint}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = await res.json() as any;
    assert.equal(body.status, 'ok');
    assert.equal(body.store.ok, true);
    const regions = server.app.services.regions.all.map((r) => r.id);
    assert.deepEqual(Object.keys(body.chunkStores).sort(), [...regions].sort());
    assert.ok(Object.values(body.chunkStores).every((c: any) => c.ok));
    assert.equal(body.worker.enabled, true);
    assert.equal(body.worker.ok, true);

    // The metadata store goes away under the node: the balancer must see it.
    await server.app.store.close();
    closed = true;
    const down = await fetch(`${server.endpoint}/healthz`);
    assert.equal(down.status, 503);
    const failed = await down.json() as any;
    assert.equal(failed.status, 'fail');
    assert.equal(failed.store.ok, false);
    assert.ok(failed.store.error);
  } finally {
    // With the store already closed, closing it again fails; everything else still stops.
    if (closed) await server.app.close().catch(() => {});
    await server.stop().catch((e) => { if (!closed) throw e; });
  }
});
