/**
 * Glance v2 speed against Glance Zed's figures on this kind of machine (issue 12, spec §0/§2): a 1 GiB upload
 * (Glance 5.0 s), GET /v2/images/{id} (Glance 112 req/s), a list of 100 (Glance 60 ms), creates (Glance 26/s).
 * `imagehouse serve` runs as its own process; curl streams the upload, bench/load-generator.ts (runLoad, another
 * process) drives the rest. SEED images (ECS images, shown by Glance as raw/bare) are inserted first so the list has
 * pages of 100 to return.
 * The upload has two anchors timed in the same run on the same file: `curl -T` into a sink that discards the body
 * (the HTTP transfer alone) and `cp` + `sync` (writing the bytes durably once). The uploaded image is then downloaded
 * (GET /file) DOWNLOADS times and once more into a file that is compared with the input (Glance's median 0.50 s).
 * Usage: node --import tsx bench/glance.ts   (BENCH_UPLOAD_MIB, default 1024; BENCH_SECONDS per figure, default 10;
 * BENCH_SEED, default 1000; BENCH_UPLOAD_ONLY=1 for the upload row alone; BENCH_CPU_PROF=DIR for the server's V8
 * profiles, one per thread; IMAGEHOUSE_DATABASE_URL=postgres://… for PostgreSQL). Prints the server's threads during
 * the upload: on a CPU, waiting for one, asleep.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { spawnServer } from '../test/support/child-server.ts';
import { keystoneToken } from '../test/support/keystone.ts';
import { cpuSecondsOf, printTable, printThreadTimes, runLoad, seedImages, threadTimes } from './support.ts';
import type { LoadSpec } from './load-generator.ts';

const UPLOAD_MIB = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SEED = Number(process.env.BENCH_SEED ?? 1000);
const UPLOAD_ONLY = process.env.BENCH_UPLOAD_ONLY === '1';
const CONNECTIONS = 16;
const DOWNLOADS = 3;
const ANCHORS = { uploadS: 5.0, getPerS: 112, list100Ms: 60, createsPerS: 26 };
const databaseUrl = process.env.IMAGEHOUSE_DATABASE_URL ?? '';
const env = { IMAGEHOUSE_DATABASE_URL: databaseUrl, IMAGEHOUSE_IMAGE_QUOTA: '10000000', IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS: '0' };

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-glance-'));
const seeding = await createApp(loadConfig({ data: dataDir, port: '0' }, env), { logger: false });
const owner = await createAccount(seeding.services, { name: `bench${process.pid}` });
await seedImages(seeding.services.db, owner.accountId, SEED);
await seeding.store.optimize();
const dialect = seeding.store.dialect;
await seeding.close();

const profileDir = process.env.BENCH_CPU_PROF;
const server = await spawnServer(dataDir, env, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
const token = await keystoneToken(server.endpoint, owner);
const glance = `${server.endpoint}/image/v2`;
const load = (spec: Omit<LoadSpec, 'endpoints' | 'seconds' | 'surface' | 'token'>, seconds = SECONDS) =>
  runLoad({ endpoints: [server.endpoint], seconds, surface: 'glance', token, randomIds: SEED, ...spec });
const measured = async (spec: Parameters<typeof load>[0]) => {
  await load({ ...spec, connections: 2 }, 1); // warm-up
  return load(spec);
};

// 1. Upload: curl streams a file of random bytes; when PUT /file answers 204 the image is active (spooled with
// md5/sha512, inspected, imported into fsync'd chunks).
const file = path.join(dataDir, 'upload.raw');
await promisify(execFile)('sh', ['-c', `head -c ${UPLOAD_MIB * 1024 * 1024} /dev/urandom > '${file}'`]);
const headers = { 'x-auth-token': token, 'content-type': 'application/json' };
const up = (await (await fetch(`${glance}/images`, { method: 'POST', headers, body: JSON.stringify({ name: 'upload', disk_format: 'raw', container_format: 'bare' }) })).json()) as { id: string };
const timed = async (run: () => Promise<unknown>) => {
  const t = performance.now();
  await run();
  return (performance.now() - t) / 1000;
};
const serverCpuS = () => cpuSecondsOf(server.process.pid!);
const sh = (cmd: string, args: string[]) => promisify(execFile)(cmd, args);
const sink = http.createServer((req, res) => req.resume().on('end', () => res.end()));
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const sinkS = await timed(() => sh('curl', ['-sf', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '-T', file, `http://127.0.0.1:${(sink.address() as { port: number }).port}/`]));
sink.close();
const copyS = await timed(() => sh('sh', ['-c', `cp '${file}' '${file}.cp' && sync`]));
fs.rmSync(`${file}.cp`);
const uploadLoad = os.loadavg()[0].toFixed(1);
const cpuBefore = serverCpuS();
const threads = threadTimes(server.process.pid!);
const uploadS = await timed(() => sh('curl', ['-sf', '-X', 'PUT', '-H', `X-Auth-Token: ${token}`, '-H', 'Content-Type: application/octet-stream', '-T', file, `${glance}/images/${up.id}/file`]));
const uploadCpuS = serverCpuS() - cpuBefore;
const threadRows = threads.stop(uploadS);
const uploaded = (await (await fetch(`${glance}/images/${up.id}`, { headers })).json()) as { status: string; size: number };
if (uploaded.status !== 'active' || uploaded.size !== UPLOAD_MIB * 1024 * 1024) throw new Error(`upload ended ${JSON.stringify(uploaded)}`);
// 1b. Download, as the spec's bench-upload.sh does (curl -o /dev/null): the first right after the upload (its chunks
// written with O_DIRECT, so not in the page cache), then again; one more into a file, checked against the input.
const fileUrl = `${glance}/images/${up.id}/file`;
const downloadS = [];
for (let run = 0; run < DOWNLOADS; run++) downloadS.push(await timed(() => sh('curl', ['-sf', '-o', '/dev/null', '-H', `X-Auth-Token: ${token}`, fileUrl])));
await sh('curl', ['-sf', '-o', `${file}.dl`, '-H', `X-Auth-Token: ${token}`, fileUrl]);
await sh('cmp', [file, `${file}.dl`]);
fs.rmSync(`${file}.dl`);
fs.rmSync(file);
const downloads = `download (GET /file, curl -o /dev/null): ${downloadS.map((d) => d.toFixed(2)).join(', ')} s, the first right after the upload (Glance Zed: median 0.50 s); the bytes checked with cmp`;
function printUploadThreads(): void {
  console.log(`\nthe server's threads during the upload (${uploadS.toFixed(2)} s):`);
  printThreadTimes(threadRows);
}
const anchors = `server CPU ${uploadCpuS.toFixed(2)} s (all threads); anchors on the same file: curl -T into a discarding sink ${sinkS.toFixed(2)} s, cp + sync ${copyS.toFixed(2)} s; 1-min load average before the upload ${uploadLoad}`;
if (UPLOAD_ONLY) {
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(`${UPLOAD_MIB} MiB upload (PUT /file): ${uploadS.toFixed(2)} s (Glance Zed ${(ANCHORS.uploadS * (UPLOAD_MIB / 1024)).toFixed(2)} s); ${anchors}`);
  console.log(downloads);
  printUploadThreads();
  process.exit(0);
}

// 2. GET one (random seeded) image, 3. list 100, 4. creates.
const get = await measured({ connections: CONNECTIONS, path: '/image/v2/images/{id}' });
const list = await measured({ connections: 1, path: '/image/v2/images?limit=100' });
const creates = await measured({ connections: 8, path: '/image/v2/images', postBody: JSON.stringify({ name: 'bench', disk_format: 'raw', container_format: 'bare' }) });
const loadavg = os.loadavg()[0].toFixed(1);
await server.stop();
fs.rmSync(dataDir, { recursive: true, force: true });

// Glance's 1 GiB time, scaled to the size uploaded here.
const glanceUploadS = ANCHORS.uploadS * (UPLOAD_MIB / 1024);
printTable([
  ['measure', 'imagehouse', 'Glance Zed', 'ratio', 'errors'],
  [`${UPLOAD_MIB} MiB upload (PUT /file), s`, uploadS.toFixed(2), glanceUploadS.toFixed(2), `${(glanceUploadS / uploadS).toFixed(1)}x`, '0'],
  [`GET /v2/images/{id}, req/s (${CONNECTIONS} conns)`, get.rps.toFixed(0), String(ANCHORS.getPerS), `${(get.rps / ANCHORS.getPerS).toFixed(1)}x`, String(get.errors)],
  [`list of 100 (of ${SEED}), p50 ms (1 conn)`, list.p50.toFixed(2), String(ANCHORS.list100Ms), `${(ANCHORS.list100Ms / list.p50).toFixed(1)}x`, String(list.errors)],
  ['POST /v2/images, creates/s (8 conns)', creates.rps.toFixed(0), String(ANCHORS.createsPerS), `${(creates.rps / ANCHORS.createsPerS).toFixed(1)}x`, String(creates.errors)],
]);
console.log(anchors);
console.log(downloads);
console.log(`(${dialect}; upload ${UPLOAD_MIB} MiB; ${SECONDS} s per figure; load generator CPU ${get.cpu.toFixed(2)}/${list.cpu.toFixed(2)}/${creates.cpu.toFixed(2)} s/s; 1-min load average at the end ${loadavg} on ${os.cpus().length} cores)`);
printUploadThreads();
