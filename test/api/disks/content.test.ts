/**
 * The disk content endpoint: ranges, whole-disk reads, bounds, ownership, authentication, streamed and
 * concurrent copy-on-write writes (optimistic manifest swaps) on SQLite and, when configured, PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../../support/server.ts';
import { postgresBaseUrl } from '../../support/stores.ts';
import { Ecs, ecsClient } from '../../support/sdk.ts';
import { dataRequest } from '../../../src/cli/api.ts';
import { CHUNK_SIZE, isAllZero } from '../../../src/domain/disk.ts';
import { GIB, dataConfig, failure, getBytes, launch, manifestHoldsBalance, pattern, putBytes } from './support.ts';
import { requires } from '../../support/requires.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeSparse, SPARSE_CONTENT_TYPE, type SparsePart } from '../../../src/formats/sparse-body.ts';
import { runCli } from '../../support/cli.ts';

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, off + size);
}

async function decodeAll(body: Buffer): Promise<SparsePart[]> {
  const parts: SparsePart[] = [];
  for await (const part of decodeSparse((async function* () { yield body; })())) parts.push(part);
  return parts;
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

test('a download that accepts a sparse body gets the data without the holes; disk read saves it with its holes', () => withServer(undefined, async (server) => {
  const alice = await server.account('alice');
  const a = ecsClient(server.hostPort, alice);
  const cfg = dataConfig(server, alice);
  const { data } = await launch(a, { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 2, category: 'cloud_essd', performanceLevel: 'PL0' })] });
  const diskId = data[0].diskId;
  const head = pattern(3 * CHUNK_SIZE + 4321, 2);
  const middle = pattern(70_000, 3);
  await putBytes(cfg, diskId, 1000, head);
  await putBytes(cfg, diskId, GIB + 12345, middle);
  await putBytes(cfg, diskId, 2 * CHUNK_SIZE, Buffer.alloc(CHUNK_SIZE)); // zeros written over the head's third chunk
  const size = 2 * GIB;
  const expected = new Map<number, Buffer>([[1000, head], [GIB + 12345, middle]]);
  expected.set(2 * CHUNK_SIZE, Buffer.alloc(CHUNK_SIZE));
  const byteAt = (at: number) => {
    let v = 0;
    for (const [off, b] of expected) if (at >= off && at < off + b.length) v = b[at - off];
    return v;
  };

  const sparse = await dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {}, { headers: { accept: SPARSE_CONTENT_TYPE } });
  assert.equal(sparse.headers.get('content-type'), SPARSE_CONTENT_TYPE);
  const body = Buffer.from(await sparse.arrayBuffer());
  assert.ok(body.length < head.length - CHUNK_SIZE + middle.length + 2 * 65536, `${body.length} bytes on the wire for a 2 GiB disk`);
  const parts = await decodeAll(body);
  assert.deepEqual(parts[0], { size });
  let checked = 0;
  for (const part of parts.slice(1) as { offset: number; data: Buffer }[]) {
    assert.ok(!isAllZero(part.data), 'no frame is all zeros');
    for (let i = 0; i < part.data.length; i += 997) assert.equal(part.data[i], byteAt(part.offset + i), `byte ${part.offset + i}`);
    checked += part.data.length;
  }
  assert.ok(checked >= head.length - CHUNK_SIZE + middle.length - 65536, 'the data came');

  // A range: offsets count from its start.
  const ranged = await dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {}, { headers: { accept: SPARSE_CONTENT_TYPE, range: `bytes=${GIB}-${GIB + 99_999}` } });
  assert.equal(ranged.status, 206);
  const rangedParts = await decodeAll(Buffer.from(await ranged.arrayBuffer()));
  assert.deepEqual(rangedParts[0], { size: 100_000 });
  const rangedBytes = Buffer.alloc(100_000);
  for (const part of rangedParts.slice(1) as { offset: number; data: Buffer }[]) part.data.copy(rangedBytes, part.offset);
  assert.ok(rangedBytes.subarray(12345, 12345 + middle.length).equals(middle), 'the range holds the data');
  assert.ok(isAllZero(rangedBytes.subarray(0, 12345)) && isAllZero(rangedBytes.subarray(12345 + middle.length)));
  assert.ok(rangedParts.slice(1).every((p) => 'offset' in p && p.offset + p.data.length <= 12345 + middle.length + 65536), 'the zeros after the data stay out');

  // Without the Accept header, plain bytes as before.
  const plain = await dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {}, { headers: { range: `bytes=${GIB}-${GIB + 99_999}` } });
  assert.equal(plain.headers.get('content-type'), 'application/octet-stream');
  const plainBytes = Buffer.from(await plain.arrayBuffer());
  assert.equal(plainBytes.length, 100_000);
  assert.ok(plainBytes.subarray(12345, 12345 + middle.length).equals(middle));

  // The CLI asks for the sparse body and writes a file with holes that holds the disk's bytes.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-disk-read-'));
  try {
    const out = path.join(dir, 'disk.raw');
    const cli = await runCli(['disk', 'read', diskId, out], {
      IMAGEHOUSE_ENDPOINT: server.endpoint, IMAGEHOUSE_ACCESS_KEY_ID: alice.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: alice.accessKeySecret,
      IMAGEHOUSE_REGION: 'cn-hangzhou', IMAGEHOUSE_CONFIG: path.join(dir, 'none.json'), IMAGEHOUSE_PROFILE: '',
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(fs.statSync(out).size, size);
    assert.ok(fs.statSync(out).blocks * 512 <= head.length - CHUNK_SIZE + middle.length + 2 * 65536, `${fs.statSync(out).blocks * 512} bytes allocated`);
    const fd = fs.openSync(out, 'r');
    const read = (at: number, n: number) => {
      const b = Buffer.alloc(n);
      fs.readSync(fd, b, 0, n, at);
      return b;
    };
    const zeroed = Buffer.from(head).fill(0, 2 * CHUNK_SIZE - 1000, 3 * CHUNK_SIZE - 1000);
    assert.ok(read(1000, head.length).equals(zeroed), 'the head, with the zeros written over its third chunk');
    assert.ok(read(GIB + 12345, middle.length).equals(middle), 'the middle');
    assert.ok(isAllZero(read(0, 1000)) && isAllZero(read(GIB, 12345)) && isAllZero(read(size - 4096, 4096)));
    fs.closeSync(fd);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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
