/**
 * The disk content endpoint: ranges, whole-disk reads, bounds, ownership, authentication, streamed and
 * concurrent copy-on-write writes (optimistic manifest swaps) on SQLite and, when configured, PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../../support/server.ts';
import { postgresBaseUrl } from '../../support/stores.ts';
import { Ecs, ecsClient } from '../../support/sdk.ts';
import { ApiCallError, dataRequest } from '../../../src/cli/api.ts';
import { CHUNK_SIZE, isAllZero } from '../../../src/domain/disk.ts';
import { GIB, dataConfig, getBytes, launch, manifestHoldsBalance, pattern, putBytes } from './support.ts';
import { requires } from '../../support/requires.ts';

async function failure(p: Promise<unknown>): Promise<ApiCallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiCallError) return e;
    throw e;
  }
  throw new Error('expected the request to fail');
}

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, off + size);
}

async function withServer(postgres: string | undefined, fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startServer({ postgresBaseUrl: postgres });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

test('ranges, whole-disk reads, bounds, ownership and authentication', () => withServer(undefined, async (server) => {
  const alice = await server.account('alice');
  const bob = await server.account('bob');
  const a = ecsClient(server.hostPort, alice);
  const cfg = dataConfig(server, alice);
  // The smallest disk there is: a 1 GiB ESSD PL0 data disk.
  const { data } = await launch(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 1, category: 'cloud_essd', performanceLevel: 'PL0' })] });
  const diskId = data[0].diskId;
  const tail = pattern(1000, 1);
  await putBytes(cfg, diskId, GIB - 1000, tail);

  const suffix = await dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {}, { headers: { range: 'bytes=-1000' } });
  assert.equal(suffix.status, 206);
  assert.equal(suffix.headers.get('content-range'), `bytes ${GIB - 1000}-${GIB - 1}/${GIB}`);
  assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), tail);
  const open = await dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {}, { headers: { range: `bytes=${GIB - 10}-` } });
  assert.deepEqual(Buffer.from(await open.arrayBuffer()), tail.subarray(990));
  assert.equal((await failure(dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {}, { headers: { range: `bytes=${GIB}-` } }))).status, 416);

  // No Range: the whole disk, as raw, with its length.
  const whole = await dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {});
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-length'), String(GIB));
  let total = 0;
  let last = Buffer.alloc(0);
  let nonZeroBeforeTail = false;
  for await (const part of whole.body as any as AsyncIterable<Uint8Array>) {
    const buf = Buffer.from(part);
    if (total + buf.length <= GIB - 1000 && !isAllZero(buf)) nonZeroBeforeTail = true;
    total += buf.length;
    last = Buffer.concat([last, buf]).subarray(-1000);
  }
  assert.equal(total, GIB);
  assert.equal(nonZeroBeforeTail, false);
  assert.deepEqual(last, tail);

  // Bounds: nothing is written when the declared length runs past the end.
  const before = await server.app.services.db.selectFrom('disks').select(['manifest_id', 'version']).where('id', '=', diskId).executeTakeFirstOrThrow();
  const past = await failure(putBytes(cfg, diskId, GIB - 10, Buffer.alloc(11, 7)));
  assert.equal(past.status, 400);
  assert.equal(past.code, 'InvalidParameter');
  assert.match(past.message, /offset/);
  assert.equal((await failure(putBytes(cfg, diskId, GIB + 1, Buffer.alloc(1)))).code, 'InvalidParameter');
  assert.equal((await failure(putBytes(cfg, diskId, -1 as number, Buffer.alloc(1)))).code, 'InvalidParameter');
  // A chunked body without a length fails as soon as what it has sent crosses the end.
  const streamed = await failure(dataRequest(cfg, 'PUT', `/disks/${diskId}/content`, { offset: String(GIB - 5) }, { body: pieces(Buffer.alloc(64, 9), 16) }));
  assert.equal(streamed.code, 'InvalidParameter');
  const after = await server.app.services.db.selectFrom('disks').select(['manifest_id', 'version']).where('id', '=', diskId).executeTakeFirstOrThrow();
  assert.deepEqual(after, before);

  // Another account's disk, or none at all, is not found; unsigned requests are refused.
  const other = dataConfig(server, bob);
  assert.equal((await failure(getBytes(other, diskId, 0, 10))).code, 'InvalidDiskId.NotFound');
  assert.equal((await failure(putBytes(other, diskId, 0, Buffer.alloc(10)))).status, 404);
  assert.equal((await failure(getBytes(cfg, 'd-bp1doesnotexist00000', 0, 10))).code, 'InvalidDiskId.NotFound');
  const anonymous = await fetch(`${server.endpoint}/disks/${diskId}/content`, { headers: { range: 'bytes=0-9' } });
  assert.ok(anonymous.status >= 400 && anonymous.status < 500);
  assert.ok(((await anonymous.json()) as { Code?: string }).Code);
  const forged = await failure(dataRequest({ ...cfg, accessKeySecret: 'x'.repeat(30) }, 'GET', `/disks/${diskId}/content`, {}));
  assert.equal(forged.code, 'SignatureDoesNotMatch');
}));

test('a streamed write of many chunks at an unaligned offset lands byte for byte', () => withServer(undefined, async (server) => {
  const alice = await server.account('alice');
  const cfg = dataConfig(server, alice);
  const { system } = await launch(ecsClient(server.hostPort, alice));
  const content = pattern(5 * CHUNK_SIZE + 333, 2);
  const offset = 7 * CHUNK_SIZE - 12345;
  const res = await dataRequest(cfg, 'PUT', `/disks/${system.diskId}/content`, { offset: String(offset) }, { body: pieces(content, 100_000) });
  assert.equal(((await res.json()) as any).BytesWritten, content.length);
  assert.deepEqual(await getBytes(cfg, system.diskId, offset, content.length), content);
  assert.deepEqual(await getBytes(cfg, system.diskId, offset - 100, 100), Buffer.alloc(100));
  assert.deepEqual(await getBytes(cfg, system.diskId, offset + content.length, 100), Buffer.alloc(100));
  assert.deepEqual(await manifestHoldsBalance(server), []);
}));

for (const backend of [{ name: 'sqlite', url: undefined }, { name: 'postgres', url: postgresBaseUrl() }]) {
  test(`${backend.name}: concurrent writes to one disk all land (optimistic manifest swap), snapshots never change`,
    { skip: backend.name === 'postgres' ? requires('postgres') : undefined },
    () => withServer(backend.url, async (server) => {
      const alice = await server.account('alice');
      const a = ecsClient(server.hostPort, alice);
      const cfg = dataConfig(server, alice);
      const { system } = await launch(a);
      const base = pattern(2 * CHUNK_SIZE, 3);
      await putBytes(cfg, system.diskId, 0, base);
      const snap = (await a.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: system.diskId }))).body.snapshotId;
      const db = server.app.services.db;
      const frozen = await db.selectFrom('snapshots').innerJoin('manifests', 'manifests.id', 'snapshots.manifest_id')
        .select(['manifests.id', 'manifests.body']).where('snapshots.id', '=', snap).executeTakeFirstOrThrow();
      const { version: v0 } = await db.selectFrom('disks').select('version').where('id', '=', system.diskId).executeTakeFirstOrThrow();

      // 12 writers, most of them into the same two chunks, all at once.
      const writes = Array.from({ length: 12 }, (_, i) => ({ offset: i * 700_000 + 11, data: pattern(4096, 100 + i) }));
      await Promise.all(writes.map((w) => putBytes(cfg, system.diskId, w.offset, w.data)));
      const expected = Buffer.from(base);
      for (const w of writes) w.data.copy(expected, w.offset);
      assert.deepEqual(await getBytes(cfg, system.diskId, 0, expected.length), expected);
      const { version } = await db.selectFrom('disks').select('version').where('id', '=', system.diskId).executeTakeFirstOrThrow();
      assert.equal(version, v0 + writes.length, 'one swap per write, none lost');

      const still = await db.selectFrom('manifests').select('body').where('id', '=', frozen.id).executeTakeFirstOrThrow();
      assert.equal(still.body, frozen.body, 'the snapshot manifest is untouched');
      const other = await launch(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ snapshotId: snap })] });
      assert.deepEqual(await getBytes(cfg, other.data[0].diskId, 0, base.length), base);
      assert.deepEqual(await manifestHoldsBalance(server), []);
    }));
}
