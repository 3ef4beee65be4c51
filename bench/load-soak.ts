/**
 * The load soak of issue 11: `imagehouse serve` in its own process on the embedded default (SQLite + local files),
 * for `--minutes`, under
 * - legitimate signed traffic from bench/load-generator.ts (its own processes): a mix of ECS reads (V1 signatures)
 *   and Glance reads (Keystone token) on keep-alive sockets, as fast as the server answers;
 * - heavy work from another account: imports of a 64 MiB raw image, cross-region copies, exports, deletes, and
 *   RunInstances with 16 empty 32 TiB data disks per instance, then their deletion;
 * - hostile clients from other loopback addresses: slow-loris sockets (headers a byte at a time, more than the
 *   per-address cap), slow bodies (a byte of a declared 1 MB now and then), and oversized unauthenticated bodies.
 * The server reports every second (IMAGEHOUSE_LOOP_REPORT_MS) its event-loop delay, its longest callback (the
 * longest time one request or other callback held the loop, and what it was) and its RSS; the report (markdown) gives
 * throughput, p50/p99 of the legitimate requests per interval, RSS over time, the loop delay and the longest holds.
 * A canary process that does nothing but measure its own event-loop delay runs alongside: on a shared machine its
 * delay is the scheduler's share of what the server reports (CPU given to other processes), not the server's work.
 * Usage: node --import tsx bench/load-soak.ts [--minutes 10] [--interval 30] [--connections 16] [--out docs/load-soak.md]
 *        [--only reads,images,launches,loris,bodies,oversized] (a subset, to find which part causes what; default all)
 *        [--cpu-prof DIR] (profile the server; the report then shows what ran inside each callback over 50 ms)
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app.ts';
import { loadConfig, parseFlags } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { createBucket, putObject } from '../src/cli/commands/transfer/client.ts';
import { spawnServer, type ChildServer } from '../test/support/child-server.ts';
import { keystoneToken } from '../test/support/keystone.ts';
import { Ecs, ecsClient } from '../test/support/sdk.ts';
import { clientConfig } from '../test/e2e/transfer-support.ts';
import { PUBLIC_X64 } from '../test/api/disks/support.ts';
import { buildSparseRaw, MiB, printTable, runLoad, seedImages } from './support.ts';
import { readProfile, whatRan } from './profile-holds.ts';
import type { LoadResult } from './load-generator.ts';

const { flags } = parseFlags(process.argv.slice(2));
const MINUTES = Number(flags.minutes ?? 10);
const INTERVAL_S = Number(flags.interval ?? 30);
const CONNECTIONS = Number(flags.connections ?? 16);
const OUT = typeof flags.out === 'string' ? flags.out : '';
const PROFILE_DIR = typeof flags['cpu-prof'] === 'string' ? path.resolve(flags['cpu-prof']) : '';
const SECONDS = Math.round(MINUTES * 60);
const PARTS = new Set(typeof flags.only === 'string' ? flags.only.split(',') : ['reads', 'images', 'launches', 'loris', 'bodies', 'oversized']);
const part = <T>(name: string, run: () => Promise<T>, otherwise: T): Promise<T> => (PARTS.has(name) ? run() : Promise.resolve(otherwise));
const IMAGES = 5000;
const REGION = 'cn-hangzhou';
const COPY_REGION = 'ap-southeast-1';
const BUCKET = 'soak';
/** Above the legitimate clients' sockets; the slow-loris address opens more than this. */
const PER_ADDRESS = CONNECTIONS + 48;
const LOOP_BLOCK_MS = 50;

const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loads: number[][] = [os.loadavg()];

// --- the server, seeded ---
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-load-soak-'));
const seeding = await createApp(loadConfig({ data: dataDir, port: '0' }, {}), { logger: false, worker: false });
const tenant = await createAccount(seeding.services, { name: 'tenant' });
const heavy = await createAccount(seeding.services, { name: 'heavy' });
await seedImages(seeding.services.db, tenant.accountId, IMAGES);
await seeding.store.optimize();
await seeding.close();

interface LoopReport { at: number; maxMs: number; p99Ms: number; holdMs: number; holdCpuMs: number; holdGcMs: number; holdWhat: string; holdsOver: number; holdFromUs: number; holdToUs: number; rssMiB: number; rssAnonMiB: number; rssFileMiB: number; heapMiB: number; externalMiB: number }
const loopReports: LoopReport[] = [];
/** Every callback the server logged as holding the loop over 50 ms. */
const longHolds: { what: string; cpuMs: number; wallMs: number; fromUs: number; toUs: number }[] = [];
let refusedConnections = 0;
let stdoutRest = '';
const onStdout = (d: Buffer) => {
  const lines = (stdoutRest + d).split('\n');
  stdoutRest = lines.pop()!;
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; loop?: { maxMs: number; p99Ms: number }; hold?: { maxMs: number; cpuMs: number; gcMs: number; what: string; over: number; fromUs: number; toUs: number }; rssMiB?: number; rssAnonMiB?: number; rssFileMiB?: number; heapMiB?: number; externalMiB?: number };
    if (entry.msg === 'event loop') {
      loopReports.push({ at: performance.now(), maxMs: entry.loop!.maxMs, p99Ms: entry.loop!.p99Ms, holdMs: entry.hold!.maxMs, holdCpuMs: entry.hold!.cpuMs, holdGcMs: entry.hold!.gcMs, holdWhat: entry.hold!.what, holdsOver: entry.hold!.over, holdFromUs: entry.hold!.fromUs, holdToUs: entry.hold!.toUs, rssMiB: entry.rssMiB!, rssAnonMiB: entry.rssAnonMiB ?? NaN, rssFileMiB: entry.rssFileMiB ?? NaN, heapMiB: entry.heapMiB!, externalMiB: entry.externalMiB ?? NaN });
    }
    else if (entry.msg === 'long callback') longHolds.push((entry as unknown as { hold: (typeof longHolds)[number] }).hold);
    else if (entry.msg?.startsWith('connection refused')) refusedConnections++;
  }
};
const server: ChildServer = await spawnServer(dataDir, {
  IMAGEHOUSE_LOG_FORMAT: 'json', IMAGEHOUSE_LOOP_REPORT_MS: '1000', IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS),
  IMAGEHOUSE_GC_INTERVAL_MS: '30000', IMAGEHOUSE_GC_GRACE_MS: '60000', UV_THREADPOOL_SIZE: '16',
}, PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [], { onStdout });
const target = new URL(server.endpoint);
log(`server ${server.endpoint} (pid ${server.process.pid}), data ${dataDir}; ${SECONDS} s`);

// --- heavy work: the bytes to import, uploaded once ---
const heavyCfg = clientConfig(server.endpoint, heavy);
await createBucket(heavyCfg, BUCKET);
const rawFile = path.join(dataDir, 'soak-64m.raw');
buildSparseRaw(rawFile, 64 * MiB, 48 * MiB, 6);
await putObject(heavyCfg, BUCKET, 'soak-64m.raw', rawFile);
fs.rmSync(rawFile);
const token = await keystoneToken(server.endpoint, tenant);

// The canary: one loop-delay figure per second from a process with nothing else to do.
const canaryReports: { at: number; maxMs: number }[] = [];
const canary = spawn(process.execPath, ['-e', `
  const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 }); h.enable();
  setInterval(() => { console.log(h.max / 1e6); h.reset(); }, 1000);`], { stdio: ['ignore', 'pipe', 'ignore'] });
let canaryRest = '';
canary.stdout.on('data', (d: Buffer) => {
  const lines = (canaryRest + d).split('\n');
  canaryRest = lines.pop()!;
  for (const l of lines) canaryReports.push({ at: performance.now(), maxMs: Number(l) });
});

const started = performance.now();
const deadline = started + SECONDS * 1000;
const running = () => performance.now() < deadline;

// --- legitimate traffic: two generators in their own processes ---
const ecsMix: Record<string, string>[] = [
  { Action: 'DescribeImages', ImageId: 'random' },
  { Action: 'DescribeImages', ImageOwnerAlias: 'self', PageSize: '50' },
  { Action: 'DescribeRegions' },
  { Action: 'DescribeImages', ImageId: 'random' },
  { Action: 'DescribeInstances', PageSize: '10' },
  { Action: 'DescribeImages', ImageOwnerAlias: 'system', PageSize: '20' },
  { Action: 'DescribeDisks', PageSize: '10' },
  { Action: 'DescribeSnapshots', PageSize: '10' },
];
const idle: LoadResult = { requests: 0, errors: 0, failures: {}, seconds: SECONDS, rps: 0, p50: 0, p99: 0, max: 0, cpu: 0, intervals: [] };
const generators: Promise<LoadResult>[] = [
  part('reads', () => runLoad({ endpoints: [server.endpoint], seconds: SECONDS, connections: CONNECTIONS, surface: 'ecs', params: ecsMix, randomIds: IMAGES,
    accessKeyId: tenant.accessKeyId, accessKeySecret: tenant.accessKeySecret, intervalSeconds: INTERVAL_S }), idle),
  part('reads', () => runLoad({ endpoints: [server.endpoint], seconds: SECONDS, connections: Math.max(2, CONNECTIONS / 4), surface: 'glance', path: '/image/v2/images/{id}',
    randomIds: IMAGES, token, intervalSeconds: INTERVAL_S }), idle),
  sleep(SECONDS * 1000).then(() => idle),
];

// --- heavy work ---
interface Timed { action: string; ms: number; ok: boolean; error?: string }
const heavyCalls: Timed[] = [];
const client = ecsClient(target.host, heavy, { readTimeoutMs: 600_000 });
async function timed(action: string, fn: () => Promise<any>): Promise<any> {
  const t = performance.now();
  try {
    const out = await fn();
    heavyCalls.push({ action, ms: performance.now() - t, ok: true });
    return out;
  } catch (e) {
    heavyCalls.push({ action, ms: performance.now() - t, ok: false, error: (e as { code?: string }).code ?? String(e) });
    return undefined;
  }
}

async function describe(imageId: string, region: string): Promise<any> {
  const res = await client.describeImages(new Ecs.DescribeImagesRequest({ regionId: region, imageId, status: 'Waiting,Creating,Available,CreateFailed,UnAvailable' }));
  return res.body.images.image[0];
}

/** Polls until the image settles; returns it (undefined when it vanished or the soak ended first). */
async function settled(imageId: string, region: string, what: string): Promise<any> {
  const t = performance.now();
  for (;;) {
    const image = await describe(imageId, region).catch(() => undefined);
    if (image && image.status !== 'Waiting' && image.status !== 'Creating') {
      heavyCalls.push({ action: `${what} (to ${image.status})`, ms: performance.now() - t, ok: image.status === 'Available', error: image.status });
      return image;
    }
    if (performance.now() > deadline + 120_000) return undefined;
    await sleep(500);
  }
}

async function removeImage(image: any, region: string): Promise<void> {
  await timed('DeleteImage', () => client.deleteImage(new Ecs.DeleteImageRequest({ regionId: region, imageId: image.imageId, force: true })));
  for (const d of image.diskDeviceMappings?.diskDeviceMapping ?? []) {
    if (d.snapshotId) await timed('DeleteSnapshot', () => client.deleteSnapshot(new Ecs.DeleteSnapshotRequest({ snapshotId: d.snapshotId, force: true })));
  }
}

async function imageWork(): Promise<void> {
  for (let n = 0; running(); n++) {
    const imported = await timed('ImportImage', () => client.importImage(new Ecs.ImportImageRequest({
      regionId: REGION, imageName: `soak_${n}`, diskDeviceMapping: [new Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: BUCKET, OSSObject: 'soak-64m.raw', format: 'RAW' })],
    })));
    if (!imported) { await sleep(2000); continue; }
    const image = await settled(imported.body.imageId, REGION, 'import');
    if (!image) continue;
    if (image.status === 'Available') {
      const copy = await timed('CopyImage', () => client.copyImage(new Ecs.CopyImageRequest({ regionId: REGION, imageId: image.imageId, destinationRegionId: COPY_REGION, destinationImageName: `soak_copy_${n}` })));
      const exported = await timed('ExportImage', () => client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId: image.imageId, OSSBucket: BUCKET, OSSPrefix: 'export', imageFormat: n % 2 ? 'qcow2' : 'raw' })));
      const copied = copy && (await settled(copy.body.imageId, COPY_REGION, 'copy'));
      if (exported) await waitTask(exported.body.taskId);
      if (copied) await removeImage(copied, COPY_REGION);
    }
    await removeImage(image, REGION);
  }
}

async function waitTask(taskId: string): Promise<void> {
  const t = performance.now();
  for (;;) {
    const task = (await client.describeTaskAttribute(new Ecs.DescribeTaskAttributeRequest({ regionId: REGION, taskId })).catch(() => undefined))?.body;
    if (task && task.taskStatus !== 'Processing' && task.taskStatus !== 'Waiting') {
      heavyCalls.push({ action: `export (to ${task.taskStatus})`, ms: performance.now() - t, ok: task.taskStatus === 'Finished', error: task.taskStatus });
      return;
    }
    if (performance.now() > deadline + 120_000) return;
    await sleep(500);
  }
}

async function launchWork(): Promise<void> {
  while (running()) {
    const res = await timed('RunInstances (20 × 16 × 32 TiB empty data disks)', () => client.runInstances(new Ecs.RunInstancesRequest({
      regionId: REGION, instanceType: 'ecs.g7.large', imageId: PUBLIC_X64, amount: 20,
      dataDisk: Array.from({ length: 16 }, () => new Ecs.RunInstancesRequestDataDisk({ category: 'cloud_essd', performanceLevel: 'PL1', size: 32768 })),
    })));
    const ids: string[] = res?.body.instanceIdSets.instanceIdSet ?? [];
    for (const id of ids) await timed('DeleteInstance', () => client.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId: id, force: true })));
    if (!res) await sleep(2000);
  }
}

// --- hostile clients, each from its own loopback address ---
const hostile = { slowLorisOpened: 0, slowLorisClosedByServer: 0, slowLorisLongestMs: 0, slowLorisHeld30s: 0, slowLorisNeverConnected: 0, slowBodyOpened: 0, slowBodyClosedByServer: 0, slowBodyLongestMs: 0,
  oversized: 0, oversizedStatuses: new Map<string, number>(), oversizedMaxBytesSent: 0 };

/** Keeps `count` sockets sending request headers one byte every 2 s (never finishing them). */
async function slowLoris(localAddress: string, count: number): Promise<void> {
  const open = async () => {
    while (running()) {
      hostile.slowLorisOpened++;
      const t = performance.now();
      await new Promise<void>((resolve) => {
        const socket = net.connect({ host: target.hostname, port: Number(target.port), localAddress });
        const header = `GET /?Action=DescribeRegions HTTP/1.1\r\nHost: ${target.host}\r\nX-Slow: ${'a'.repeat(4096)}`;
        let i = 0;
        const drip = setInterval(() => { if (i < header.length) socket.write(header[i++]); }, 2000);
        let connected = false;
        socket.on('connect', () => { connected = true; });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(drip);
          if (running()) hostile.slowLorisClosedByServer++;
          const held = performance.now() - t;
          hostile.slowLorisLongestMs = Math.max(hostile.slowLorisLongestMs, held);
          if (held > 30_000) { hostile.slowLorisHeld30s++; if (!connected) hostile.slowLorisNeverConnected++; }
          resolve();
        });
        const stop = setInterval(() => { if (!running()) { clearInterval(stop); socket.destroy(); } }, 1000);
        socket.on('close', () => clearInterval(stop));
      });
      await sleep(200);
    }
  };
  await Promise.all(Array.from({ length: count }, open));
}

/** Keeps `count` unauthenticated POSTs open that declared 1 MB and send one byte every 5 s. */
async function slowBodies(localAddress: string, count: number): Promise<void> {
  const open = async () => {
    while (running()) {
      hostile.slowBodyOpened++;
      const t = performance.now();
      await new Promise<void>((resolve) => {
        const req = http.request({ host: target.hostname, port: target.port, localAddress, method: 'POST', path: '/',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(1_000_000) }, agent: false });
        const drip = setInterval(() => req.write('a'), 5000);
        const done = () => {
          clearInterval(drip);
          if (running()) hostile.slowBodyClosedByServer++;
          hostile.slowBodyLongestMs = Math.max(hostile.slowBodyLongestMs, performance.now() - t);
          resolve();
        };
        req.on('response', (res) => { res.resume(); res.on('end', () => req.destroy()); });
        req.on('error', () => {});
        req.on('close', done);
        req.write('a');
        const stop = setInterval(() => { if (!running()) { clearInterval(stop); req.destroy(); } }, 1000);
        req.on('close', () => clearInterval(stop));
      });
      await sleep(200);
    }
  };
  await Promise.all(Array.from({ length: count }, open));
}

/** Unauthenticated requests declaring 1 GiB bodies, sending as fast as the server takes them, until it answers or hangs up. */
async function oversized(localAddress: string, count: number): Promise<void> {
  const paths = [['POST', '/'], ['PUT', '/image/v2/images/00000000-0000-4000-8000-000000000000/file'], ['POST', '/v1/cloudimages/action']];
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const one = async (k: number) => {
    for (let n = k; running(); n += count) {
      const [method, p] = paths[n % paths.length];
      hostile.oversized++;
      const { status, sent } = await new Promise<{ status: string; sent: number }>((resolve) => {
        let sent = 0;
        let answered = '';
        const req = http.request({ host: target.hostname, port: target.port, localAddress, method, path: p, agent: false,
          headers: { 'content-type': method === 'PUT' ? 'application/octet-stream' : 'application/x-www-form-urlencoded', 'content-length': String(1024 ** 3) } });
        const pump = () => {
          while (!answered && sent < 1024 ** 3 && running()) {
            sent += chunk.length;
            if (!req.write(chunk)) { req.once('drain', pump); return; }
          }
          if (!answered) req.destroy();
        };
        req.on('response', (res) => { answered = String(res.statusCode); res.resume(); req.destroy(); });
        req.on('error', () => {});
        req.on('close', () => resolve({ status: answered || 'closed', sent }));
        pump();
      });
      hostile.oversizedStatuses.set(`${method} ${p.split('/').slice(0, 3).join('/')} → ${status}`, (hostile.oversizedStatuses.get(`${method} ${p.split('/').slice(0, 3).join('/')} → ${status}`) ?? 0) + 1);
      hostile.oversizedMaxBytesSent = Math.max(hostile.oversizedMaxBytesSent, sent);
      await sleep(100);
    }
  };
  await Promise.all(Array.from({ length: count }, (_, k) => one(k)));
}

const sideWork = [part('images', imageWork, undefined), part('launches', launchWork, undefined), part('loris', () => slowLoris('127.0.0.2', PER_ADDRESS + 16), undefined),
  part('bodies', () => slowBodies('127.0.0.3', 16), undefined), part('oversized', () => oversized('127.0.0.4', 2), undefined)];
const loadTimer = setInterval(() => loads.push(os.loadavg()), 60_000);
const [ecs, glance] = await Promise.all(generators);
clearInterval(loadTimer);
loads.push(os.loadavg());
log('legitimate load done; waiting for the heavy work to wind down');
await Promise.all(sideWork);
await server.stop();
canary.kill();
fs.rmSync(dataDir, { recursive: true, force: true });

// --- the report ---
const lines: string[] = [];
const out = (s = '') => lines.push(s);
const table = (rows: string[][]) => {
  out(`| ${rows[0].join(' | ')} |`);
  out(`|${rows[0].map(() => '---').join('|')}|`);
  for (const r of rows.slice(1)) out(`| ${r.join(' | ')} |`);
};
const ms = (x: number) => x.toFixed(x < 10 ? 1 : 0);
const loopIn = (from: number, to: number) => loopReports.filter((r) => r.at - started > from * 1000 && r.at - started <= to * 1000);
const loopMax = Math.max(0, ...loopReports.map((r) => r.maxMs));
const canaryIn = (from: number, to: number) => canaryReports.filter((r) => r.at - started > from * 1000 && r.at - started <= to * 1000);
const canaryMax = Math.max(0, ...canaryReports.map((r) => r.maxMs));
const canaryBlocked = canaryReports.filter((r) => r.maxMs > LOOP_BLOCK_MS).length;
const blocked = loopReports.filter((r) => r.maxMs > LOOP_BLOCK_MS);
const longestHold = loopReports.reduce((a, r) => (r.holdCpuMs > a.holdCpuMs ? r : a), loopReports[0]);
const longestWallHold = loopReports.reduce((a, r) => (r.holdMs > a.holdMs ? r : a), loopReports[0]);
const holdsOver = loopReports.reduce((n, r) => n + r.holdsOver, 0);
/** The longest holds (by CPU), one row per kind of callback, longest first. */
const holdKinds = new Map<string, { cpuMs: number; wallMs: number; gcMs: number; seconds: number }>();
for (const r of loopReports) {
  if (r.holdCpuMs <= LOOP_BLOCK_MS) continue;
  const k = holdKinds.get(r.holdWhat) ?? { cpuMs: 0, wallMs: 0, gcMs: 0, seconds: 0 };
  const longer = r.holdCpuMs > k.cpuMs;
  holdKinds.set(r.holdWhat, { cpuMs: longer ? r.holdCpuMs : k.cpuMs, wallMs: longer ? r.holdMs : k.wallMs, gcMs: longer ? r.holdGcMs : k.gcMs, seconds: k.seconds + 1 });
}
const rss = loopReports.map((r) => r.rssMiB);
const half = Math.floor(rss.length / 2);
const firstHalfMax = Math.max(...rss.slice(0, half));
const secondHalfMax = Math.max(...rss.slice(half));
const plateau = secondHalfMax <= firstHalfMax * 1.1;
// The anonymous part: the process's own memory, without the pages of files it maps (SQLite's database file).
const anon = loopReports.map((r) => r.rssAnonMiB);
const anonFirstHalfMax = Math.max(...anon.slice(0, half));
const anonSecondHalfMax = Math.max(...anon.slice(half));
const anonPlateau = anonSecondHalfMax <= anonFirstHalfMax * 1.1;
const legit = [ecs, glance];
const legitP99 = Math.max(ecs.p99, glance.p99);

out(`# Load soak (issue 11)`);
out();
out(`Command: \`node --import tsx bench/load-soak.ts --minutes ${MINUTES} --interval ${INTERVAL_S} --connections ${CONNECTIONS}${typeof flags.only === 'string' ? ` --only ${flags.only}` : ''}\``);
out(`Run ${new Date().toISOString().slice(0, 16)}Z on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 1024 ** 3)} GiB, Node ${process.version}; `
  + `SQLite + local chunk files (the embedded default), ${IMAGES} seeded images. The machine is shared with other sessions: `
  + `load average (1/5/15 min) at start ${loads[0].map((l) => l.toFixed(1)).join('/')}, at the end ${loads.at(-1)!.map((l) => l.toFixed(1)).join('/')}, `
  + `1-min values over the run ${loads.map((l) => l[0].toFixed(1)).join(', ')}.`);
out();
out(`## Verdict`);
out(`- Legitimate requests: ${legit.reduce((n, r) => n + r.requests, 0)} in ${SECONDS} s, ${(ecs.rps + glance.rps).toFixed(0)} answered per second; p99 ${ms(legitP99)} ms `
  + `(${legitP99 < 1000 ? 'under' : 'OVER'} 1 s), max ${ms(Math.max(ecs.max, glance.max))} ms; errors ${ecs.errors + glance.errors}.`);
out(`- Longest single callback (one request, or a timer, file or worker callback, with its microtasks) holding the event loop: `
  + `${ms(longestHold?.holdCpuMs ?? 0)} ms of CPU (${longestHold?.holdWhat || 'n/a'}; ${ms(longestHold?.holdMs ?? 0)} ms wall, of which ${ms(longestHold?.holdGcMs ?? 0)} ms garbage-collector pauses); ${holdsOver} callbacks over ${LOOP_BLOCK_MS} ms of CPU in the whole run. `
  + `The longest in wall time, waiting for a CPU included: ${ms(longestWallHold?.holdMs ?? 0)} ms (${longestWallHold?.holdWhat || 'n/a'}, ${ms(longestWallHold?.holdCpuMs ?? 0)} ms of CPU).`);
out(`- Event-loop delay (how late a 10 ms timer ran: every callback of a loop turn added up, plus time waiting for a CPU): max ${ms(loopMax)} ms; ${blocked.length} of ${loopReports.length} one-second reports above ${LOOP_BLOCK_MS} ms. `
  + `The idle canary process saw up to ${ms(canaryMax)} ms (${canaryBlocked} of ${canaryReports.length} seconds above ${LOOP_BLOCK_MS} ms): that much is the machine's scheduling, not the server's work.`);
out(`- RSS: ${rss[0]} MiB at the first report, max ${firstHalfMax} MiB in the first half and ${secondHalfMax} MiB in the second, ${rss.at(-1)} MiB at the end: `
  + `${plateau ? 'plateaued (second-half max within 10% of the first half)' : 'STILL GROWING'}. `
  + `Of it anonymous memory (the process's own, without mapped file pages such as SQLite's database file, which grows with the nonces of the replay window): `
  + `${anon[0]} MiB at the first report, max ${anonFirstHalfMax} / ${anonSecondHalfMax} MiB in the first / second half, ${anon.at(-1)} MiB at the end: `
  + `${anonPlateau ? 'plateaued' : 'STILL GROWING'}; file-backed ${loopReports[0]?.rssFileMiB} → ${loopReports.at(-1)?.rssFileMiB} MiB.`);
out();
out(`## Legitimate traffic (bench/load-generator.ts, own processes, keep-alive)`);
table([['generator', 'connections', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'generator CPU'],
  ['ECS, signed V1, 8-action mix', String(CONNECTIONS), String(ecs.requests), ecs.rps.toFixed(0), ms(ecs.p50), ms(ecs.p99), ms(ecs.max), String(ecs.errors), ecs.cpu.toFixed(2)],
  ['Glance GET /v2/images/{id}', String(Math.max(2, CONNECTIONS / 4)), String(glance.requests), glance.rps.toFixed(0), ms(glance.p50), ms(glance.p99), ms(glance.max), String(glance.errors), glance.cpu.toFixed(2)]]);
out();
out(`ECS mix, in turn: ${ecsMix.map((p) => Object.entries(p).map(([k, v]) => `${k}=${v}`).join('&')).join('; ')}.`);
out();
out(`## Per interval (${INTERVAL_S} s): legitimate throughput and latency, the server's event loop and RSS`);
const rows = [['until s', 'ECS req/s', 'ECS p50', 'ECS p99', 'Glance req/s', 'Glance p99', 'longest hold CPU ms', 'wall ms', 'holds > 50 ms', 'loop delay max ms', 'canary delay max ms', 'RSS MiB (end)', 'of it anonymous', 'heap MiB', 'external MiB']];
(ecs.intervals ?? []).forEach((e, i) => {
  const g = glance.intervals?.[i];
  const from = i === 0 ? 0 : (ecs.intervals![i - 1].t);
  const loop = loopIn(from, e.t);
  rows.push([e.t.toFixed(0), e.rps.toFixed(0), ms(e.p50), ms(e.p99), g ? g.rps.toFixed(0) : '', g ? ms(g.p99) : '',
    ms(Math.max(0, ...loop.map((r) => r.holdCpuMs))), ms(Math.max(0, ...loop.map((r) => r.holdMs))), String(loop.reduce((n, r) => n + r.holdsOver, 0)), ms(Math.max(0, ...loop.map((r) => r.maxMs))), ms(Math.max(0, ...canaryIn(from, e.t).map((r) => r.maxMs))), String(loop.at(-1)?.rssMiB ?? ''), String(loop.at(-1)?.rssAnonMiB ?? ''), String(loop.at(-1)?.heapMiB ?? ''), String(loop.at(-1)?.externalMiB ?? '')]);
});
table(rows);
out();
if (holdKinds.size > 0) {
  out(`Callbacks that held the loop over ${LOOP_BLOCK_MS} ms of CPU, by what they were (the longest of each second's longest, and in how many one-second reports):`);
  out();
  table([['callback', 'longest CPU ms', 'its wall ms', 'its GC pauses ms', 'seconds'], ...[...holdKinds].sort((a, b) => b[1].cpuMs - a[1].cpuMs).map(([k, v]) => [k, ms(v.cpuMs), ms(v.wallMs), ms(v.gcMs), String(v.seconds)])]);
  out();
}
if (PROFILE_DIR) {
  const file = fs.readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(PROFILE_DIR, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  const profile = readProfile(file);
  // Every callback over the limit, and each second's longest.
  const candidates = new Map(longHolds.map((h) => [h.fromUs, h]));
  for (const r of loopReports) if (!candidates.has(r.holdFromUs)) candidates.set(r.holdFromUs, { what: r.holdWhat, cpuMs: r.holdCpuMs, wallMs: r.holdMs, fromUs: r.holdFromUs, toUs: r.holdToUs });
  out(`The longest callbacks (every one over ${LOOP_BLOCK_MS} ms and each second's longest; the 25 longest by CPU), with what the server's CPU profile (\`--cpu-prof\`, a sample a millisecond) shows inside each:`);
  out();
  table([['callback', 'CPU ms', 'wall ms', 'sampled ms', 'most self time', 'our frames (inclusive)'],
    ...[...candidates.values()].sort((a, b) => b.cpuMs - a.cpuMs).slice(0, 25).map((h) => {
      const ran = whatRan(profile, h.fromUs, h.toUs);
      return [h.what, ms(h.cpuMs), ms(h.wallMs), ms(ran.sampledMs), ran.self, ran.ours];
    })]);
  out();
}
out(`## Heavy work (another account, official SDK, V3 signatures)`);
const byAction = new Map<string, Timed[]>();
for (const c of heavyCalls) byAction.set(c.action, [...(byAction.get(c.action) ?? []), c]);
const heavyRows = [['action', 'calls', 'ok', 'median s', 'max s', 'failures']];
for (const [action, calls] of byAction) {
  const sorted = calls.map((c) => c.ms).sort((a, b) => a - b);
  const failures = [...new Set(calls.filter((c) => !c.ok).map((c) => c.error))].join(', ');
  heavyRows.push([action, String(calls.length), String(calls.filter((c) => c.ok).length), (sorted[Math.floor(sorted.length / 2)] / 1000).toFixed(2), (sorted.at(-1)! / 1000).toFixed(2), failures]);
}
table(heavyRows);
out();
out(`## Hostile clients`);
table([['client', 'figures'],
  [`slow-loris from 127.0.0.2 (${PER_ADDRESS + 16} sockets, a header byte every 2 s; the per-address cap is ${PER_ADDRESS})`, `${hostile.slowLorisOpened} opened, ${hostile.slowLorisClosedByServer} closed by the server, longest held ${(hostile.slowLorisLongestMs / 1000).toFixed(1)} s (${hostile.slowLorisHeld30s} lasted over 30 s, of which ${hostile.slowLorisNeverConnected} never completed their TCP connect); the server logged ${refusedConnections} refusals for too many connections from one address`],
  ['slow bodies from 127.0.0.3 (16 unauthenticated POST / declaring 1 MB, a byte every 5 s)', `${hostile.slowBodyOpened} opened, ${hostile.slowBodyClosedByServer} closed by the server, longest held ${(hostile.slowBodyLongestMs / 1000).toFixed(1)} s`],
  ['oversized bodies from 127.0.0.4 (2 at a time, unauthenticated, declaring 1 GiB, sent as fast as taken)', `${hostile.oversized} requests; answers ${[...hostile.oversizedStatuses].map(([k, v]) => `${k}: ${v}`).join(', ')}; at most ${(hostile.oversizedMaxBytesSent / MiB).toFixed(1)} MiB written before the answer`]]);

const report = lines.join('\n') + '\n';
if (OUT) fs.writeFileSync(OUT, report);
console.log(report);
printTable([['legit p99 ms', 'longest hold CPU ms', 'loop delay max ms', 'canary max ms', 'RSS first/second half max MiB', 'anonymous'], [ms(legitP99), ms(longestHold?.holdCpuMs ?? 0), ms(loopMax), ms(canaryMax), `${firstHalfMax}/${secondHalfMax}`, `${anonFirstHalfMax}/${anonSecondHalfMax}`]]);
