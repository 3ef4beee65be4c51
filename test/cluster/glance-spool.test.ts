/**
 * Glance's node-local bytes across nodes (issue 14): `PUT /stage` keeps the bytes in the receiving node's data
 * directory, and `PUT /file`'s body arrives at the node that takes it, so the job that ingests either is pinned to
 * that node, whichever node takes the import.
 * Nodes on one PostgreSQL database, as scripts/cluster.sh runs them (each with its own data directory). If the
 * holding node stops, the others fail the import with a Glance error instead of leaving it importing forever.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, type TestServer } from '../support/server.ts';
import { keystoneToken } from '../support/keystone.ts';
import { postgresBaseUrl } from '../support/stores.ts';
import { needing } from '../support/requires.ts';
import { waitFor } from '../support/wait.ts';

const { after, before, test } = needing('postgres');

type Any = any;

// Short leases, so a stopped node's heartbeat runs out within the test.
const env = { IMAGEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('hex'), IMAGEHOUSE_JOB_LEASE_MS: '1000' };
let a: TestServer;
let b: TestServer;
let token: string;

before(async () => {
  a = await startServer({ postgresBaseUrl: postgresBaseUrl(), env });
  b = await startServer({ databaseUrl: a.databaseUrl, env });
  token = await keystoneToken(a.endpoint, await a.account('spool'));
});
after(async () => {
  await b?.stop();
  await a?.stop();
});

async function call(node: TestServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: Any }> {
  const bytes = Buffer.isBuffer(body);
  const res = await fetch(`${node.endpoint}/image${path}`, {
    method,
    headers: { 'x-auth-token': token, ...(body === undefined ? {} : { 'content-type': bytes ? 'application/octet-stream' : 'application/json' }) },
    body: body === undefined ? undefined : bytes ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const newImage = async (node: TestServer) => (await call(node, 'POST', '/v2/images', { name: 'spool', disk_format: 'raw', container_format: 'bare' })).json.id as string;

const settled = (node: TestServer, id: string) => waitFor(async () => {
  const img = (await call(node, 'GET', `/v2/images/${id}`)).json;
  return img.status === 'active' || img.os_glance_failed_import ? img : undefined;
}, { what: `import of ${id}` });

/** The job that filled the image, from the shared database. */
const jobOf = (id: string, kind: string) => a.app.services.db.selectFrom('jobs').selectAll()
  .where('resource_id', '=', id).where('kind', '=', kind).executeTakeFirstOrThrow();

async function fileOf(node: TestServer, id: string): Promise<Buffer> {
  const res = await fetch(`${node.endpoint}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

test('bytes staged on node A and imported through node B are ingested by A', async () => {
  const id = await newImage(a);
  const bytes = crypto.randomBytes(2 * 1024 * 1024 + 11);
  assert.equal((await call(a, 'PUT', `/v2/images/${id}/stage`, bytes)).status, 204);
  // B wakes its own worker for the job; only A may claim it, since the file is in A's data directory.
  assert.equal((await call(b, 'POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } })).status, 202);
  const img = await settled(b, id);
  assert.equal(img.status, 'active', JSON.stringify((await call(b, 'GET', `/v2/images/${id}/tasks`)).json));
  assert.equal(img.os_hash_value, crypto.createHash('sha512').update(bytes).digest('hex'));
  const job = await jobOf(id, 'GlanceImport');
  assert.equal(job.node, a.app.services.jobs.node);
  assert.ok(job.lease_owner?.startsWith(`${a.app.services.jobs.node}-`), `claimed by ${job.lease_owner}`);
  // Each node here has its own chunk store (a cluster shares one in S3): A holds the bytes.
  assert.ok((await fileOf(a, id)).equals(bytes));
});

test('PUT /file on one node is ingested there while another node polls the queue', async () => {
  for (const [node, other] of [[a, b], [b, a]] as const) {
    const id = await newImage(node);
    const bytes = crypto.randomBytes(1024 * 1024 + 3);
    const put = await call(node, 'PUT', `/v2/images/${id}/file`, bytes);
    assert.equal(put.status, 204, JSON.stringify(put.json));
    const job = await jobOf(id, 'GlanceUpload');
    assert.equal(job.node, node.app.services.jobs.node);
    assert.notEqual(job.node, other.app.services.jobs.node);
    assert.equal(job.state, 'succeeded');
    assert.ok((await fileOf(node, id)).equals(bytes));
  }
});

test('an import of bytes staged on a node that stopped fails with a Glance error, and the image is queued again', async () => {
  const c = await startServer({ databaseUrl: a.databaseUrl, env });
  let stopped = false;
  try {
    const id = await newImage(c);
    assert.equal((await call(c, 'PUT', `/v2/images/${id}/stage`, crypto.randomBytes(64 * 1024))).status, 204);
    const holder = c.app.services.jobs.node;
    await c.stop();
    stopped = true;
    assert.equal((await call(b, 'POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } })).status, 202);
    const img = await settled(b, id);
    assert.equal(img.status, 'queued');
    assert.equal(img.os_glance_failed_import, 'chunks');
    assert.equal(img.os_glance_importing_to_stores, undefined);
    const job = await jobOf(id, 'GlanceImport');
    assert.equal(job.state, 'failed');
    assert.equal(job.error_code, 'JobNodeStopped');
    const tasks = (await call(b, 'GET', `/v2/images/${id}/tasks`)).json.tasks as Any[];
    assert.equal(tasks[0].status, 'failure');
    assert.match(tasks[0].message, new RegExp(`on node ${holder}, which stopped`));
    // Queued again, the image takes a new stage on a live node.
    const bytes = crypto.randomBytes(128 * 1024);
    assert.equal((await call(b, 'PUT', `/v2/images/${id}/stage`, bytes)).status, 204);
    assert.equal((await call(a, 'POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } })).status, 202);
    assert.equal((await settled(a, id)).status, 'active');
    assert.ok((await fileOf(b, id)).equals(bytes));
  } finally {
    if (!stopped) await c.stop();
  }
});
