/**
 * PUT /v2/images/{id}/file stores the body in the chunk store as it arrives, then inspects the stored bytes: a raw
 * image's disk is the very manifest of its bytes, a qcow2 is read back from its stored chunks, a mismatch commits
 * nothing, and an upload cut off mid-body (or by a restart) leaves the image queued for another try.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startServer, type TestServer } from '../../support/server.ts';
import { keystoneToken } from '../../support/keystone.ts';
import { glanceCall } from '../../support/glance.ts';
import { waitFor } from '../../support/wait.ts';
import { CHUNK_SIZE, chunkCount, chunkLength, fullMask, zeroMaskOf, type VirtualDisk } from '../../../src/domain/disk.ts';
import { exportImage } from '../../../src/formats/writers/index.ts';
import { manifestDisk } from '../../../src/blobs/manifests.ts';
import { collectGarbage } from '../../../src/blobs/gc.ts';
import { moveStatus } from '../../../src/services/glance/data.ts';
import { JOB_KIND } from '../../../src/services/job-kinds.ts';

type Any = any;
const MiB = 1024 * 1024;

/** A disk held in memory (null chunks are zero), as a VirtualDisk the export writers take. */
function memoryDisk(chunks: (Buffer | null)[], virtualSize: number): VirtualDisk {
  const data = (i: number) => chunks[i] ?? null;
  return {
    virtualSize,
    chunkCount: chunkCount(virtualSize),
    dataChunks: () => chunks.flatMap((c, i) => (c ? [i] : [])),
    zeroMask: (i) => { const c = data(i); if (!c) return null; const m = zeroMaskOf(c); return m === fullMask(c.length) ? null : m; },
    readChunk: async (i) => data(i),
  };
}

async function drain(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of stream) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

describe('Glance PUT /file', () => {
  let s: TestServer;
  let token: string;
  let A: (method: string, path: string, body?: unknown, type?: string) => ReturnType<typeof glanceCall>;
  const newImage = async (disk_format: string) => (await A('POST', '/v2/images', { name: `up-${disk_format}`, disk_format, container_format: 'bare' })).json.id as string;
  const put = (id: string, bytes: Buffer) => A('PUT', `/v2/images/${id}/file`, bytes, 'application/octet-stream');
  /** The image's system disk as its snapshot's manifest reads it. */
  async function diskBytes(id: string): Promise<Buffer> {
    const { db, dataPlane } = s.app.services;
    const row = await db.selectFrom('image_disks as d').innerJoin('snapshots as sn', 'sn.id', 'd.snapshot_id').select('sn.manifest_id').where('d.image_id', '=', id).executeTakeFirstOrThrow();
    const stored = (await dataPlane.manifests.load(row.manifest_id))!;
    const vd = manifestDisk(stored.manifest, dataPlane.store(stored.region));
    const parts: Buffer[] = [];
    for (let i = 0; i < vd.chunkCount; i++) parts.push((await vd.readChunk(i)) ?? Buffer.alloc(chunkLength(vd.virtualSize, i)));
    return Buffer.concat(parts);
  }

  before(async () => {
    s = await startServer({ postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    token = await keystoneToken(s.endpoint, await s.account('up'));
    A = (method, path, body, type) => glanceCall(s.endpoint, token, method, path, body, type);
  });
  after(() => s.stop());

  it('raw over several chunks: the disk is the manifest of the bytes; an odd length is padded to a sector on the disk only', async () => {
    const bytes = crypto.randomBytes(2 * CHUNK_SIZE + 1000);
    bytes.fill(0, CHUNK_SIZE, 2 * CHUNK_SIZE); // a zero chunk in the middle
    const id = await newImage('raw');
    assert.equal((await put(id, bytes)).status, 204);
    const img = (await A('GET', `/v2/images/${id}`)).json;
    assert.equal(img.status, 'active');
    assert.equal(img.size, bytes.length);
    assert.equal(img.checksum, crypto.createHash('md5').update(bytes).digest('hex'));
    assert.equal(img.os_hash_value, crypto.createHash('sha512').update(bytes).digest('hex'));
    const file = await fetch(`${s.endpoint}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
    assert.equal(file.headers.get('content-md5'), img.checksum);
    assert.ok(Buffer.from(await file.arrayBuffer()).equals(bytes));
    const disk = await diskBytes(id);
    assert.equal(disk.length, Math.ceil(bytes.length / 512) * 512);
    assert.ok(disk.subarray(0, bytes.length).equals(bytes));
    assert.ok(disk.subarray(bytes.length).every((b) => b === 0));

    // A whole number of sectors: one manifest serves the file and the disk.
    const whole = crypto.randomBytes(CHUNK_SIZE + 512);
    const same = await newImage('raw');
    assert.equal((await put(same, whole)).status, 204);
    const g = await s.app.services.db.selectFrom('glance_images').select('file_manifest_id').where('image_id', '=', same).executeTakeFirstOrThrow();
    const snap = await s.app.services.db.selectFrom('image_disks as d').innerJoin('snapshots as sn', 'sn.id', 'd.snapshot_id').select('sn.manifest_id').where('d.image_id', '=', same).executeTakeFirstOrThrow();
    assert.equal(snap.manifest_id, g.file_manifest_id);
    assert.ok((await diskBytes(same)).equals(whole));
  });

  it('qcow2 spanning several chunks is read back from its stored chunks; declared raw, it is refused and the image stays queued', async () => {
    const chunks = [crypto.randomBytes(CHUNK_SIZE), null, crypto.randomBytes(CHUNK_SIZE)];
    const virtualSize = 3 * CHUNK_SIZE;
    const qcow2 = await drain(exportImage(memoryDisk(chunks, virtualSize), 'qcow2').stream());
    assert.ok(qcow2.length > CHUNK_SIZE * 2);

    const asRaw = await newImage('raw');
    const refused = await put(asRaw, qcow2);
    assert.equal(refused.status, 400);
    assert.match(refused.json.message, /does not match disk_format raw/);
    assert.equal((await A('GET', `/v2/images/${asRaw}`)).json.status, 'queued');

    const id = await newImage('qcow2');
    assert.equal((await put(id, qcow2)).status, 204);
    const img = (await A('GET', `/v2/images/${id}`)).json;
    assert.equal(img.status, 'active');
    assert.equal(img.virtual_size, virtualSize);
    assert.equal(img.size, qcow2.length);
    const file = await fetch(`${s.endpoint}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
    assert.ok(Buffer.from(await file.arrayBuffer()).equals(qcow2));
    assert.ok((await diskBytes(id)).equals(Buffer.concat([chunks[0]!, Buffer.alloc(CHUNK_SIZE), chunks[2]!])));
  });

  it('an upload cut off mid-body leaves the image queued, and the next upload fills it', async () => {
    const id = await newImage('raw');
    const sent = crypto.randomBytes(6 * MiB);
    const url = new URL(`${s.endpoint}/image/v2/images/${id}/file`);
    const { services } = s.app;
    const ref = 'sha256:' + crypto.createHash('sha256').update(sent.subarray(0, CHUNK_SIZE)).digest('hex');
    const req = http.request(url, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream', 'content-length': String(16 * MiB) } });
    req.on('error', () => {});
    req.write(sent);
    // The first chunk is stored (never to be committed) before the client goes away.
    const region = services.regions.all[0].id;
    await waitFor(() => services.dataPlane.store(region).has(ref), { what: 'the first chunk' });
    req.destroy();
    const img = await waitFor(async () => {
      const got = (await A('GET', `/v2/images/${id}`)).json;
      return got.status === 'queued' ? got : undefined;
    }, { what: 'the cut-off upload to give the image back' });
    assert.equal(img.size, null);
    const job = await s.app.services.db.selectFrom('jobs').select(['state']).where('resource_id', '=', id).where('kind', '=', JOB_KIND.glanceUpload).executeTakeFirstOrThrow();
    assert.equal(job.state, 'failed');
    // Its first chunk was stored but never committed: garbage, but only once the GC grace period has passed.
    const chunk = await services.db.selectFrom('chunks').selectAll().where('ref', '=', ref).executeTakeFirstOrThrow();
    assert.equal(chunk.refcount, 0);
    const gc = (graceMs: number) => collectGarbage({ index: services.dataPlane.index, store: services.dataPlane.store(region), region, graceMs, now: () => services.clock.now() });
    await gc(3600_000);
    assert.ok((await services.dataPlane.store(region).get(ref)).equals(sent.subarray(0, CHUNK_SIZE)));
    assert.ok((await gc(0)).deleted >= 1);
    assert.equal(await services.dataPlane.store(region).has(ref), false);
    const bytes = crypto.randomBytes(CHUNK_SIZE + 4096);
    assert.equal((await put(id, bytes)).status, 204);
    assert.equal((await A('GET', `/v2/images/${id}`)).json.status, 'active');
  });

  it('an upload job whose body this node no longer holds (it restarted mid-body) fails and puts the image back to queued', async () => {
    const { services } = s.app;
    const id = await newImage('raw');
    const row = await services.db.selectFrom('images').select(['region', 'owner_id']).where('id', '=', id).executeTakeFirstOrThrow();
    assert.ok(await moveStatus(services, id, ['queued'], 'saving'));
    const job = await services.jobs.enqueue(services.db, {
      kind: JOB_KIND.glanceUpload, region: row.region, accountId: row.owner_id, resourceId: id,
      payload: { method: 'upload', receiver: 'before-the-restart' }, maxAttempts: 1, node: services.jobs.node,
    });
    services.wakeWorker();
    const done = await waitFor(async () => {
      const j = await services.db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
      return j.state === 'failed' || j.state === 'succeeded' ? j : undefined;
    }, { what: 'the orphaned upload job' });
    assert.equal(done.state, 'failed');
    const img = (await A('GET', `/v2/images/${id}`)).json as Any;
    assert.equal(img.status, 'queued');
    assert.equal(img.os_glance_failed_import, undefined);
  });
});
