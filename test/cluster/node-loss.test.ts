/**
 * A cluster survives the loss of a node (issue 14): scripts/cluster.sh starts 3 nodes on PostgreSQL and Ceph
 * RGW behind HAProxy; the official SDK goes through HAProxy. With imports, a copy and an export in flight, the
 * node running a task is kill -9'd and later restarted. Every task finishes (on a surviving node once the lease
 * expires), a client polling throughout sees at most its in-flight request fail, and refcounts and holds match
 * the snapshots and disks exactly, with no chunk leaked. Console sessions made on one node work on the others.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { createS3Client, S3ChunkStore } from '../../src/blobs/s3-store.ts';
import { KyselyChunkIndex } from '../../src/blobs/chunk-index.ts';
import { collectGarbage } from '../../src/blobs/gc.ts';
import { decodeManifestBody } from '../../src/blobs/manifests.ts';
import { createBucket, putObject } from '../../src/cli/commands/transfer/client.ts';
import { Ecs, ecsClient } from '../support/sdk.ts';
import { freshPostgresDatabase, postgresBaseUrl } from '../support/stores.ts';
import { waitFor } from '../support/wait.ts';
import { needing } from '../support/requires.ts';
import { REGION, clientConfig, importRequest, makeDisk, makeMarkerDisk } from '../e2e/transfer-support.ts';

const { test } = needing('postgres', 'ceph', 'haproxy', 'qemu-img');
const run = promisify(execFile);
const CLUSTER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/cluster.sh');
const COPY_REGION = 'cn-beijing';
const LEASE_MS = 3000;

interface Cluster { endpoint: string; hostPort: string; pids: number[]; env: Record<string, string>; clusterEnv: Record<string, string> }

async function clusterUp(n: number, databaseUrl: string, dir: string): Promise<Cluster> {
  const clusterEnv = {
    ...process.env as Record<string, string>,
    CLUSTER_DIR: dir,
    CLUSTER_PORT: String(18_400 + crypto.randomInt(500)),
    CLUSTER_DATABASE_URL: databaseUrl,
    CLUSTER_S3_BUCKET: `ih-cluster-${crypto.randomBytes(4).toString('hex')}`,
    CLUSTER_JOB_LEASE_MS: String(LEASE_MS),
  };
  const { stdout } = await run(CLUSTER, ['up', String(n)], { env: clusterEnv, timeout: 240_000 });
  const endpoint = /^endpoint (\S+)$/m.exec(stdout)![1];
  const pids = [...stdout.matchAll(/^pid (\d+)$/gm)].map((m) => Number(m[1]));
  assert.equal(pids.length, n, stdout);
  assert.match(stdout, new RegExp(`^IMAGEHOUSE_DATABASE_URL=${databaseUrl.replace(/[.?*+^$[\]\\(){}|-]/g, '\\$&')}$`, 'm'));
  const env = Object.fromEntries(fs.readFileSync(path.join(dir, 'env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { endpoint, hostPort: new URL(endpoint).host, pids, env, clusterEnv };
}

/** Every manifest is held exactly by its snapshots and disks, refcounts count the manifests' references, no read hold is left. */
async function assertInvariants(store: Store, env: Record<string, string>): Promise<void> {
  const db = store.db;
  assert.deepEqual(await db.selectFrom('read_holds').selectAll().execute(), [], 'no read hold left behind');
  const refs = new Map<string, number>();
  for (const m of await db.selectFrom('manifests').selectAll().execute()) {
    for (const e of decodeManifestBody(Number(m.virtual_size), m.body).entries) refs.set(`${m.region}/${e.ref}`, (refs.get(`${m.region}/${e.ref}`) ?? 0) + 1);
    const users = (await db.selectFrom('snapshots').select('id').where('manifest_id', '=', m.id).execute()).length
      + (await db.selectFrom('disks').select('id').where('manifest_id', '=', m.id).execute()).length;
    assert.equal(m.holders, users, `manifest ${m.id} is held by exactly its snapshots and disks`);
  }
  // Reclaim what the killed node left half-done (pending rows, orphan bytes), then the store must match the manifests.
  const s3 = { endpoint: env.IMAGEHOUSE_S3_ENDPOINT, region: 'us-east-1', accessKeyId: env.IMAGEHOUSE_S3_ACCESS_KEY_ID, secretAccessKey: env.IMAGEHOUSE_S3_SECRET_ACCESS_KEY };
  const client = createS3Client(s3);
  try {
    for (const region of [REGION, COPY_REGION]) {
      const chunks = new S3ChunkStore({ ...s3, bucket: env.IMAGEHOUSE_S3_BUCKET, prefix: `${region}/` }, client);
      await collectGarbage({ index: new KyselyChunkIndex(db), store: chunks, region, graceMs: 0, sweepOrphans: true });
      const rows = await db.selectFrom('chunks').selectAll().where('region', '=', region).execute();
      const want = [...refs].filter(([k]) => k.startsWith(`${region}/`)).map(([k, n]) => [k.slice(region.length + 1), [n, 'live']] as const);
      assert.deepEqual(new Map(rows.map((r) => [r.ref, [r.refcount, r.state]])), new Map(want), `chunk rows of ${region}`);
      const stored: string[] = [];
      for await (const ref of chunks.list()) stored.push(ref);
      assert.deepEqual(stored.sort(), want.map(([ref]) => ref).sort(), `the chunk store of ${region} holds exactly the referenced chunks`);
    }
  } finally {
    client.destroy();
  }
}

test('3 nodes behind HAProxy: kill -9 one mid-task, restart it; every task finishes and nothing leaks', { timeout: 420_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-cluster-'));
  const fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-cluster-fixtures-'));
  const pg = await freshPostgresDatabase(postgresBaseUrl()!);
  let cluster: Cluster | undefined;
  let store: Store | undefined;
  try {
    cluster = await clusterUp(3, pg.url, dir);
    const { endpoint, hostPort, env } = cluster;
    store = await openStore({ databaseUrl: pg.url });
    let json = '';
    assert.equal(await main(['account', 'create', '--name', 'alice', '--json', '--data', path.join(dir, 'admin')], {
      out: (l) => { json += l; }, err: () => {}, isTTY: false, env: { IMAGEHOUSE_DATABASE_URL: pg.url, IMAGEHOUSE_MASTER_KEY: env.IMAGEHOUSE_MASTER_KEY },
    }), 0);
    const account = JSON.parse(json) as { accessKeyId: string; accessKeySecret: string };

    // Console: a session made through HAProxy is honoured by whichever node serves the next request.
    const signIn = await fetch(`${endpoint}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(account) });
    assert.equal(signIn.status, 200);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
    const { CsrfToken } = await signIn.json() as { CsrfToken: string };
    const servedBy = new Set<string>([signIn.headers.get('x-served-by')!]);
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${endpoint}/console/api/session`, { headers: { cookie } });
      assert.equal(r.status, 200, `session on ${r.headers.get('x-served-by')}`);
      servedBy.add(r.headers.get('x-served-by')!);
    }
    assert.ok(servedBy.size >= 2, `requests landed on ${[...servedBy].join(', ')}`);
    const signOut = await fetch(`${endpoint}/console/api/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': CsrfToken } });
    assert.equal(signOut.status, 200);
    for (let i = 0; i < 3; i++) assert.notEqual((await fetch(`${endpoint}/console/api/session`, { headers: { cookie } })).status, 200, 'signed out on every node');

    const cfg = clientConfig(endpoint, account);
    const bucket = `nl-${crypto.randomBytes(4).toString('hex')}`;
    await createBucket(cfg, bucket);
    const small = makeDisk(fixtures, 'small', { virtualMiB: 32, dataMiB: 8, format: 'qcow2' });
    const big = makeMarkerDisk(fixtures, 'big', 384);
    await putObject(cfg, bucket, 'small.qcow2', small.file);
    await putObject(cfg, bucket, 'big.qcow2', big.file);
    const client = ecsClient(hostPort, account);
    const base = (await client.importImage(importRequest(bucket, [{ object: 'small.qcow2' }], { imageName: 'base' }))).body;
    await waitFor(async () => (await store!.db.selectFrom('images').select('status').where('id', '=', base.imageId).executeTakeFirst())?.status === 'Available', { what: 'the base image', timeoutMs: 120_000 });

    // In flight together: two imports, a copy to another region, an export.
    const imports = [
      (await client.importImage(importRequest(bucket, [{ object: 'big.qcow2' }], { imageName: 'big1' }))).body,
      (await client.importImage(importRequest(bucket, [{ object: 'small.qcow2' }, { object: 'big.qcow2' }], { imageName: 'big2' }))).body,
    ];
    const copy = (await client.copyImage(new Ecs.CopyImageRequest({ regionId: REGION, imageId: base.imageId, destinationRegionId: COPY_REGION, destinationImageName: 'base_bj' }))).body;
    const exported = (await client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId: base.imageId, OSSBucket: bucket, imageFormat: 'qcow2', OSSPrefix: 'out' }))).body;
    const copyJob = await store.db.selectFrom('jobs').select('id').where('resource_id', '=', copy.imageId).executeTakeFirstOrThrow();
    const taskIds = [...imports.map((i) => i.taskId), exported.taskId, copyJob.id];

    // A client polling through HAProxy the whole time; one request at a time, so at most one is in flight at the kill.
    let polling = true;
    const failures: string[] = [];
    let polls = 0;
    const poller = (async () => {
      while (polling) {
        try {
          await client.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, imageOwnerAlias: 'self' }));
          polls++;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    })();

    // Kill the node that runs a task (by its pid in the job's lease owner).
    const victim = await waitFor(async () => {
      const running = await store!.db.selectFrom('jobs').select('lease_owner').where('id', 'in', taskIds).where('state', '=', 'running').execute();
      const owners = running.map((j) => Number(/-(\d+)#/.exec(j.lease_owner ?? '')?.[1]));
      const index = cluster!.pids.findIndex((pid) => owners.includes(pid));
      return index >= 0 ? index : undefined;
    }, { what: 'a task running on a node', timeoutMs: 60_000, intervalMs: 50 });
    process.kill(cluster.pids[victim], 'SIGKILL');
    const killedAt = polls;
    await waitFor(() => polls > killedAt + 20, { what: 'requests served by the surviving nodes', timeoutMs: 60_000 });
    const restarted = await run(CLUSTER, ['node', String(victim + 1)], { env: cluster.clusterEnv, timeout: 120_000 });
    cluster.pids[victim] = Number(/^pid (\d+)$/m.exec(restarted.stdout)![1]);

    const finished = await waitFor(async () => {
      const rows = await store!.db.selectFrom('jobs').select(['id', 'state', 'attempts']).where('id', 'in', taskIds).execute();
      const images = await store!.db.selectFrom('images').select(['id', 'status']).where('id', 'in', [...imports.map((i) => i.imageId), copy.imageId]).execute();
      const settled = rows.every((r) => r.state === 'succeeded' || r.state === 'failed') && images.every((i) => i.status !== 'Creating' && i.status !== 'Waiting');
      return settled ? { rows, images } : undefined;
    }, { what: 'every task to finish', timeoutMs: 240_000, intervalMs: 250 });
    polling = false;
    await poller;
    assert.deepEqual(finished.rows.filter((r) => r.state !== 'succeeded'), [], 'every task succeeded');
    assert.deepEqual(finished.images.filter((i) => i.status !== 'Available'), [], 'every image is Available');
    assert.ok(finished.rows.some((r) => r.attempts > 1), 'a task was taken over after the kill');
    assert.ok(failures.length <= 1, `only the in-flight request may fail: ${failures.join('; ')}`);

    await assertInvariants(store, env);
  } finally {
    await store?.close();
    if (cluster) await run(CLUSTER, ['down'], { env: cluster.clusterEnv, timeout: 60_000 }).catch(() => {});
    await pg.drop();
    fs.rmSync(fixtures, { recursive: true, force: true });
  }
});
