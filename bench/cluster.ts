/**
 * Scaling with nodes (issue 14): DescribeImages and import throughput with 1, 2 and 3 nodes of one cluster
 * (scripts/cluster.sh: PostgreSQL, Ceph RGW, HAProxy), with an external load generator (bench/load-generator.ts,
 * its own process). All requests go through HAProxy, reconfigured for the running nodes (`cluster.sh lb K`).
 * During each run the CPU time of the nodes, PostgreSQL, Ceph, HAProxy and the load generator is sampled from
 * /proc, which shows where the bottleneck sits.
 * Usage: BENCH_PG_URL=postgres://…/db [BENCH_SECONDS=15] [BENCH_IMAGES=10000] node --import tsx bench/cluster.ts
 * (needs root for Ceph, haproxy and a running PostgreSQL whose server may create databases).
 */
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { main } from '../src/cli/main.ts';
import { openStore, type Store } from '../src/store/db.ts';
import { createBucket, putObject } from '../src/cli/commands/transfer/client.ts';
import { MiB, printTable, runLoad, seedImages } from './support.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const CLUSTER = path.join(ROOT, 'scripts/cluster.sh');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 10_000);
const CONCURRENCY = 16;
const IMPORTS_PER_ROUND = 6;
const IMPORT_MIB = 24;
const base = process.env.BENCH_PG_URL;
if (!base) throw new Error('BENCH_PG_URL is not set (scripts/start-postgres.sh PORT prints one)');

const dbName = 'ih_bench_' + crypto.randomBytes(4).toString('hex');
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`create database ${dbName}`);
const url = new URL(base);
url.pathname = '/' + dbName;
const databaseUrl = url.toString();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-cluster-'));
const port = 19_480;
const clusterEnv = { ...process.env, CLUSTER_DIR: dir, CLUSTER_PORT: String(port), CLUSTER_DATABASE_URL: databaseUrl, CLUSTER_S3_BUCKET: `ih-bench-${crypto.randomBytes(4).toString('hex')}` };
const endpoint = `http://127.0.0.1:${port}`;

/** CPU seconds (user + system) of processes, from /proc. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* exited */ }
  }
  return ticks / 100;
}
const pidsOf = (pattern: string) => execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
/** PostgreSQL's CPU seconds: the postmaster with its exited backends (cutime/cstime), plus the live backends. */
function postgresSeconds(): number {
  const master = pidsOf(`postgres.*-p ${new URL(base!).port}`)[0];
  const stat = fs.readFileSync(`/proc/${master}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const children = execFileSync('pgrep', ['-P', String(master)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100 + cpuSeconds(children);
}

/** Runs `fn` and reports each component's share of one core over its wall time. */
async function measured<T>(nodes: number[], fn: () => Promise<T>): Promise<{ result: T; wall: number; cpu: Record<string, string> }> {
  const groups: Record<string, () => number> = {
    nodes: () => cpuSeconds(nodes), postgres: postgresSeconds, ceph: () => cpuSeconds([...pidsOf('radosgw'), ...pidsOf('ceph-osd')]),
    haproxy: () => cpuSeconds(pidsOf(`haproxy.*${dir}`)),
  };
  const before = Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, g()]));
  const t0 = performance.now();
  const result = await fn();
  const wall = (performance.now() - t0) / 1000;
  const cpu = Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, `${((g() - before[k]) / wall).toFixed(2)}`]));
  return { result, wall, cpu };
}

let store: Store | undefined;
const { stdout } = await run(CLUSTER, ['up', '3'], { env: clusterEnv, timeout: 300_000 });
const pids = [...stdout.matchAll(/^pid (\d+)$/gm)].map((m) => Number(m[1]));
const env = Object.fromEntries(fs.readFileSync(path.join(dir, 'env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
try {
  const accounts: { accountId: string; accessKeyId: string; accessKeySecret: string }[] = [];
  for (const name of ['reader', 'importer1', 'importer2', 'importer3']) {
    let json = '';
    await main(['account', 'create', '--name', name, '--json', '--data', path.join(dir, 'admin')], { out: (l) => { json += l; }, err: () => {}, isTTY: false, env: { IMAGEHOUSE_DATABASE_URL: databaseUrl, IMAGEHOUSE_MASTER_KEY: env.IMAGEHOUSE_MASTER_KEY } });
    accounts.push(JSON.parse(json) as { accountId: string; accessKeyId: string; accessKeySecret: string });
  }
  store = await openStore({ databaseUrl });
  await seedImages(store.db, accounts[0].accountId, IMAGES);
  const buckets: string[] = [];
  const importers = accounts.slice(1);
  for (const a of importers) {
    const bucket = `bench-${crypto.randomBytes(4).toString('hex')}`;
    await createBucket({ endpoint, region: 'cn-hangzhou', accessKeyId: a.accessKeyId, accessKeySecret: a.accessKeySecret }, bucket);
    buckets.push(bucket);
  }

  const describeRows: string[][] = [['nodes', 'DescribeImages req/s', 'p50 ms', 'p99 ms', 'failed', 'CPU: nodes', 'PostgreSQL', 'Ceph', 'HAProxy', 'load generator']];
  const importRows: string[][] = [['nodes', `${IMPORTS_PER_ROUND} × ${IMPORT_MIB} MiB imports, s`, 'MB/s', 'CPU: nodes', 'PostgreSQL', 'Ceph', 'HAProxy']];
  for (let k = 1; k <= 3; k++) {
    // Only nodes 1..k run: the others are stopped, so their workers claim nothing either.
    for (let i = 1; i <= 3; i++) {
      const alive = (() => { try { process.kill(pids[i - 1], 0); return true; } catch { return false; } })();
      if (i <= k && !alive) pids[i - 1] = Number(/^pid (\d+)$/m.exec((await run(CLUSTER, ['node', String(i)], { env: clusterEnv })).stdout)![1]);
      if (i > k && alive) process.kill(pids[i - 1], 'SIGTERM');
    }
    await run(CLUSTER, ['lb', String(k)], { env: clusterEnv });
    await new Promise((r) => setTimeout(r, 2000));
    const live = pids.slice(0, k);
    // Half lookups by ID, half a page of 10 of the account's own images: the two commonest calls.
    const d = await measured(live, () => runLoad({
      endpoints: [endpoint], seconds: SECONDS, connections: CONCURRENCY, surface: 'ecs', randomIds: IMAGES,
      params: [{ Action: 'DescribeImages', ImageId: 'random' }, { Action: 'DescribeImages', ImageOwnerAlias: 'self' }],
      accessKeyId: accounts[0].accessKeyId, accessKeySecret: accounts[0].accessKeySecret,
    }));
    const failed = Object.entries(d.result.failures).map(([kind, n]) => `${n} ${kind}`).join(', ') || '0';
    describeRows.push([String(k), d.result.rps.toFixed(0), d.result.p50.toFixed(1), d.result.p99.toFixed(1), failed, d.cpu.nodes, d.cpu.postgres, d.cpu.ceph, d.cpu.haproxy, d.result.cpu.toFixed(2)]);
    console.log(describeRows.at(-1)!.join(' | '));

    // Imports: fresh random bytes every round (no deduplication), two per account (the per-account job limit).
    const files = Array.from({ length: IMPORTS_PER_ROUND }, (_, j) => {
      const f = path.join(dir, `disk-${k}-${j}.raw`);
      fs.writeFileSync(f, crypto.randomBytes(IMPORT_MIB * MiB));
      return f;
    });
    const cfgs = importers.map((a) => ({ endpoint, region: 'cn-hangzhou', accessKeyId: a.accessKeyId, accessKeySecret: a.accessKeySecret }));
    for (const [j, f] of files.entries()) {
      // An upload on a reused keep-alive connection was seen to be cut ("other side closed"); one retry opens a new one.
      await putObject(cfgs[j % 3], buckets[j % 3], path.basename(f), f).catch(() => putObject(cfgs[j % 3], buckets[j % 3], path.basename(f), f));
    }
    const sessions: { cookie: string; CsrfToken: string }[] = [];
    for (const a of importers) {
      const res = await fetch(`${endpoint}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(a) });
      sessions.push({ cookie: res.headers.get('set-cookie')!.split(';')[0], ...(await res.json() as { CsrfToken: string }) });
    }
    const imp = await measured(live, async () => {
      const ids: string[] = [];
      for (const [j, f] of files.entries()) {
        const { cookie, CsrfToken } = sessions[j % 3];
        const call = await fetch(`${endpoint}/console/api/call/ImportImage`, {
          method: 'POST', headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': CsrfToken },
          body: JSON.stringify({ RegionId: 'cn-hangzhou', 'DiskDeviceMapping.1.OSSBucket': buckets[j % 3], 'DiskDeviceMapping.1.OSSObject': path.basename(f), 'DiskDeviceMapping.1.Format': 'RAW' }),
        });
        const body = await call.json() as { ImageId?: string };
        if (!body.ImageId) throw new Error(`ImportImage: ${JSON.stringify(body)}`);
        ids.push(body.ImageId);
      }
      for (;;) {
        const rows = await store!.db.selectFrom('images').select('status').where('id', 'in', ids).execute();
        if (rows.some((r) => r.status === 'CreateFailed')) throw new Error('an import failed');
        if (rows.every((r) => r.status === 'Available')) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    importRows.push([String(k), imp.wall.toFixed(1), ((IMPORTS_PER_ROUND * IMPORT_MIB * MiB) / 1e6 / imp.wall).toFixed(0), imp.cpu.nodes, imp.cpu.postgres, imp.cpu.ceph, imp.cpu.haproxy]);
    console.log(importRows.at(-1)!.join(' | '));
    for (const f of files) fs.rmSync(f);
  }
  console.log(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores, shared)`);
  console.log(`${IMAGES} images; ${SECONDS} s per run, ${CONCURRENCY} requests in flight, through HAProxy, round-robin over the running nodes`);
  printTable(describeRows);
  printTable(importRows);
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await store?.close();
  await run(CLUSTER, ['down'], { env: clusterEnv }).catch(() => {});
  await admin.query(`drop database if exists ${dbName}`).catch((e) => console.error(`database ${dbName} left behind: ${e.message}`));
  await admin.end();
}
