/**
 * API throughput measured from outside the server: `imagehouse serve` runs as one process, and each query is driven by
 * bench/load-generator.ts in another (keep-alive, CONNECTIONS sockets). Anchors: Glance Zed on this kind of machine
 * (shared/specs/openstack-glance-and-huawei-ims.md §2): 112 GET /v2/images/{id} per second, 60 ms to list 100 images.
 * Usage: node --import tsx bench/http.ts [images=100000] [seconds=10] [connections=32]
 * IMAGEHOUSE_DATABASE_URL=postgres://… measures on PostgreSQL (in a fresh database on that server, dropped at the end; the
 * server must run on this machine, whose /proc gives its backends' CPU); BENCH_CPU_PROF=DIR writes the server's CPU profile
 * there and prints where its time went; BENCH_ONLY=<regular expression> runs the queries whose label matches.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { spawnServer } from '../test/support/child-server.ts';
import { keystoneToken } from '../test/support/keystone.ts';
import { freshPostgresDatabase } from '../test/support/stores.ts';
import { cpuSecondsOf, printTable, runLoad, seedImages } from './support.ts';
import type { LoadResult, LoadSpec } from './load-generator.ts';

const IMAGES = Number(process.argv[2] ?? 100_000);
const SECONDS = Number(process.argv[3] ?? 10);
const CONNECTIONS = Number(process.argv[4] ?? 32);
const GLANCE_GET_PER_S = 112;
const GLANCE_LIST100_MS = 60;
// PostgreSQL: a fresh database on that server for each run (the seeded rows would clash with a previous run's).
const pgDatabase = process.env.IMAGEHOUSE_DATABASE_URL ? await freshPostgresDatabase(process.env.IMAGEHOUSE_DATABASE_URL) : undefined;
const databaseUrl = pgDatabase?.url ?? '';
const profileDir = process.env.BENCH_CPU_PROF;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-http-'));
const seeding = await createApp(loadConfig({ data: dataDir, port: '0' }, { IMAGEHOUSE_DATABASE_URL: databaseUrl }), { logger: false });
const owner = await createAccount(seeding.services, { name: `bench${process.pid}` });
await seedImages(seeding.services.db, owner.accountId, IMAGES);
await seeding.store.optimize();
const dialect = seeding.store.dialect;
await seeding.close();

// The per-address connection cap (default 20) would refuse the generator's extra sockets.
const server = await spawnServer(dataDir, { IMAGEHOUSE_DATABASE_URL: databaseUrl, IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS: String(CONNECTIONS + 8) }, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
const token = await keystoneToken(server.endpoint, owner);

async function load(spec: Omit<LoadSpec, 'endpoints' | 'seconds'> & { seconds?: number }): Promise<LoadResult> {
  return runLoad({ endpoints: [server.endpoint], seconds: SECONDS, randomIds: IMAGES, accessKeyId: owner.accessKeyId, accessKeySecret: owner.accessKeySecret, ...spec });
}

const queries: [string, Omit<LoadSpec, 'endpoints' | 'seconds'>][] = [
  ['DescribeImages by ImageId', { surface: 'ecs', connections: CONNECTIONS, params: [{ Action: 'DescribeImages', ImageId: 'random' }] }],
  ['Glance GET /v2/images/{id}', { surface: 'glance', connections: CONNECTIONS, path: '/image/v2/images/{id}', token }],
  ['DescribeImages by ImageId, 1 connection', { surface: 'ecs', connections: 1, params: [{ Action: 'DescribeImages', ImageId: 'random' }] }],
  ['Glance GET /v2/images/{id}, 1 connection', { surface: 'glance', connections: 1, path: '/image/v2/images/{id}', token }],
  ['DescribeImages own, page of 100', { surface: 'ecs', connections: CONNECTIONS, params: [{ Action: 'DescribeImages', ImageOwnerAlias: 'self', PageSize: '100' }] }],
  ['Glance GET /v2/images, list of 100, 1 connection', { surface: 'glance', connections: 1, path: '/image/v2/images?limit=100', token }],
  ['DescribeImages own, page of 100, 1 connection', { surface: 'ecs', connections: 1, params: [{ Action: 'DescribeImages', ImageOwnerAlias: 'self', PageSize: '100' }] }],
  // Other filters, one request at a time (their latency).
  ['DescribeImages own, page of 10, 1 connection', { surface: 'ecs', connections: 1, params: [{ Action: 'DescribeImages', ImageOwnerAlias: 'self' }] }],
  ['DescribeImages family + arm64, page of 100, 1 connection', { surface: 'ecs', connections: 1, params: [{ Action: 'DescribeImages', ImageFamily: 'db', Architecture: 'arm64', PageSize: '100' }] }],
  ['DescribeImages name substring (a different one each request), page of 10, 1 connection', { surface: 'ecs', connections: 1, params: [{ Action: 'DescribeImages', ImageName: 'img_web_{<99}' }] }],
  ['DescribeImages default set (system + self + shared), page 50 of 20, 1 connection', { surface: 'ecs', connections: 1, params: [{ Action: 'DescribeImages', PageNumber: '50', PageSize: '20' }] }],
  ['DescribeImages by SnapshotId, 1 connection', { surface: 'ecs', connections: 1, params: [{ Action: 'DescribeImages', SnapshotId: 'random-snapshot' }] }],
];

const serverCpuSeconds = () => cpuSecondsOf(server.process.pid!);

/**
 * PostgreSQL's CPU seconds so far for the bench's database: its backends are processes on this machine, and they share
 * the 2 cores with the server and the generator, so a request's cost includes theirs. Backends that ended are lost.
 */
const pgWatcher = pgDatabase ? new pg.Client({ connectionString: pgDatabase.url }) : undefined;
await pgWatcher?.connect();
async function postgresCpu(): Promise<Map<number, number>> {
  const seconds = new Map<number, number>();
  if (!pgWatcher) return seconds;
  const { rows } = await pgWatcher.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
  for (const { pid } of rows) {
    try { seconds.set(pid, cpuSecondsOf(pid)); } catch { /* ended in between */ }
  }
  return seconds;
}
const cpuSpent = (before: Map<number, number>, after: Map<number, number>) => [...after].reduce((sum, [pid, s]) => sum + s - (before.get(pid) ?? 0), 0);

// Server CPU ms per request is the figure that survives a shared machine: req/s moves with other load, the CPU a
// request costs barely does. Generator CPU is its cores busy (1.0 = one core).
const rows = [['query', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU ms/req', 'PostgreSQL CPU ms/req', 'generator CPU', 'anchor', 'ratio']];
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
for (const [label, spec] of queries) {
  if (only && !only.test(label)) continue;
  // Warm-up at the query's own concurrency: a fresh server's first seconds ran 10-30% slower (JIT, pool connections).
  await load({ ...spec, seconds: 3 });
  const cpu0 = serverCpuSeconds();
  const pg0 = await postgresCpu();
  const r = await load(spec);
  const serverMs = ((serverCpuSeconds() - cpu0) * 1000) / Math.max(1, r.requests);
  const pgMs = pgWatcher ? ((cpuSpent(pg0, await postgresCpu()) * 1000) / Math.max(1, r.requests)).toFixed(3) : '';
  // Latency rows (1 connection, or a page of 100) compare p50 with Glance's time for the same call (1000/112 ms for
  // one GET by id, 60 ms for a list or page of 100); other listings have no Glance figure to compare with.
  const list100 = /page of 100|list of 100/.test(label);
  const latency = list100 || label.includes('1 connection');
  const anchorMs = list100 ? GLANCE_LIST100_MS : /by ImageId|GET/.test(label) ? 1000 / GLANCE_GET_PER_S : undefined;
  const anchor = latency ? (anchorMs ? `${anchorMs.toFixed(1)} ms` : '') : `${GLANCE_GET_PER_S} req/s`;
  const ratio = latency ? (anchorMs ? anchorMs / r.p50 : undefined) : r.rps / GLANCE_GET_PER_S;
  rows.push([label, r.rps.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), String(r.errors), serverMs.toFixed(3), pgMs, r.cpu.toFixed(2), anchor, ratio ? `${ratio.toFixed(1)}x` : '']);
}
console.log(`${IMAGES} images, ${dialect}, ${SECONDS} s per query, ${CONNECTIONS} connections, load generator in its own process\n`);
printTable(rows);
await pgWatcher?.end();
await server.stop();
if (profileDir) printProfile(profileDir);
fs.rmSync(dataDir, { recursive: true, force: true });
await pgDatabase?.drop();

/** The server's CPU profile by self time: the 15 costliest functions. */
function printProfile(dir: string): void {
  const file = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (!file) return;
  interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  console.log(`\nserver CPU profile (${file}), self time:`);
  printTable([['share', 'function'], ...[...self].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, n]) => [`${((100 * n) / total).toFixed(1)}%`, k])]);
}
