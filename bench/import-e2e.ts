/**
 * End-to-end import: the time from ImportImage (official SDK) until DescribeImages shows the image
 * Available, for a qcow2 with 1 GiB of random data (4 GiB virtual) in a bucket, against
 * `qemu-img convert -O raw -t writeback` of the same file (qemu's durable qcow2 → raw, one flush at close), and
 * the disk's floor: `dd` of the data bytes alone (read, then written with O_DIRECT and fdatasync'd).
 * The service runs as its own process (`imagehouse serve` from dist/: `npm run build` first), so its RSS and CPU
 * are its own and the bench's client does not share its event loop.
 * Each timed import runs on a fresh service (fresh chunk store, so every chunk is new) after a small warm-up
 * import (starts the hash workers). Two re-imports into the same service follow: the same object with its format
 * declared, which the service cannot recognise (every chunk already stored, but every byte read and hashed), and the
 * same object again (recognised by its version, nothing read). The image is checked against the
 * input (export → qemu-img compare) once.
 *
 * Env: IMPORT_BENCH_VIRTUAL_MIB (default 4096), IMPORT_BENCH_DATA_MIB (default 1024, 64 random extents),
 *      IMPORT_BENCH_RUNS (default 3, median reported), IMPORT_BENCH_DIR (default the OS temp dir; the service's
 *      data directory goes there too), IMPORT_BENCH_DROP_CACHES=1 (root: drop the page cache before each run),
 *      IMPORT_BENCH_AS_PUT=1 (import the object as the bucket put left it: written with O_DIRECT, not in the page
 *      cache, and not dropped from it either, so the memory a buffered read would fill is fresh),
 *      IMPORT_BENCH_PROFILE_DIR (the service writes V8 CPU profiles of its threads there when it stops),
 *      IMPORT_BENCH_PERF_OUT (`perf record -g` of the service during each timed import, kernel included, to this file).
 * Usage: node --import tsx bench/import-e2e.ts
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnServer, type ChildServer } from '../test/support/child-server.ts';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { Ecs, ecsClient } from '../test/support/sdk.ts';
import { createBucket, getObject, putObject } from '../src/cli/commands/transfer/client.ts';
import type { ClientConfig } from '../src/cli/api.ts';
import { buildSparseRaw, cpuSecondsOf, median, printTable, printThreadTimes, startPerf, threadTimes } from './support.ts';

const MiB = 1024 * 1024;
const VIRTUAL = Number(process.env.IMPORT_BENCH_VIRTUAL_MIB ?? 4096) * MiB;
const DATA = Number(process.env.IMPORT_BENCH_DATA_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.IMPORT_BENCH_RUNS ?? 3);
const DROP_CACHES = process.env.IMPORT_BENCH_DROP_CACHES === '1';
const AS_PUT = process.env.IMPORT_BENCH_AS_PUT === '1';
const PROFILE_DIR = process.env.IMPORT_BENCH_PROFILE_DIR;
const PERF_OUT = process.env.IMPORT_BENCH_PERF_OUT;
const EXTENTS = 64;
const REGION = 'cn-hangzhou';
/** DescribeImages polling interval: the figure is accurate to about this much, and polling costs little CPU. */
const POLL_MS = 25;

const base = process.env.IMPORT_BENCH_DIR ?? os.tmpdir();
const dir = fs.mkdtempSync(path.join(base, 'ih-bench-import-'));
process.env.TMPDIR = base; // the service (which inherits it) and the SDKs put their temp files there
try {
  await main();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const raw = path.join(dir, 'input.raw');
  const qcow2 = path.join(dir, 'input.qcow2');
  let t = performance.now();
  buildSparseRaw(raw, VIRTUAL, DATA, EXTENTS);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  const small = path.join(dir, 'warmup.qcow2');
  execFileSync('qemu-img', ['create', '-f', 'qcow2', small, '64M']);
  console.log(`input: ${VIRTUAL / MiB} MiB virtual qcow2 with ${DATA / MiB} MiB of random data in ${EXTENTS} extents, ${(fs.statSync(qcow2).size / MiB).toFixed(0)} MiB file (built in ${secs(t)} s)`);
  const cache = DROP_CACHES ? 'dropped before each run' : AS_PUT ? 'as the bucket put left it (the object not in it)' : 'warm';
  console.log(`runs: ${RUNS} (median), page cache ${cache}\n`);

  const ours: number[] = [];
  const qemu: number[] = [];
  const floor: number[] = [];
  const dataOnly = path.join(dir, 'data.bin');
  execFileSync('sh', ['-c', `head -c ${DATA} /dev/urandom > '${dataOnly}'`]);
  const cpu: number[] = [];
  let reimport = 0;
  let unrecognised = 0;
  let peakRss = 0;
  let idleRss = 0;
  let threadRows: ReturnType<ReturnType<typeof threadTimes>['stop']> = [];
  for (let run = 0; run < RUNS; run++) {
    const dataDir = fs.mkdtempSync(path.join(dir, 'service-'));
    const { server, account } = await startService(dataDir);
    try {
      const { client, cfg } = await prepare(server, account, qcow2, small);
      // The put wrote the object with O_DIRECT, so it is not in the page cache: read it once for a warm run, as
      // qemu-img's input is.
      if (!DROP_CACHES && !AS_PUT) execFileSync('sh', ['-c', `cat '${path.join(dataDir, 'buckets', 'bench', 'input.qcow2')}' > /dev/null`]);
      prepareRun();
      const pid = server.process.pid!;
      idleRss = Math.max(idleRss, rssOf(pid));
      const cpu0 = cpuSecondsOf(pid);
      const rss = sampleRss(pid);
      const threads = threadTimes(pid);
      const perf = PERF_OUT ? await startPerf(pid, PERF_OUT) : undefined;
      const s = performance.now();
      const imageId = await importAndWait(client, 'input.qcow2', `bench-${run}`);
      ours.push((performance.now() - s) / 1000);
      threadRows = threads.stop(ours[run]);
      await perf?.stop();
      peakRss = Math.max(peakRss, rss.stop());
      cpu.push(cpuSecondsOf(pid) - cpu0);
      if (run === 0) {
        await verify(cfg, client, imageId, raw);
        // The unrecognised one first: it reads the whole file, as the first import did, so the page cache is alike.
        let r = performance.now();
        await importAndWait(client, 'input.qcow2', 'bench-declared', 'QCOW2');
        unrecognised = (performance.now() - r) / 1000;
        r = performance.now();
        await importAndWait(client, 'input.qcow2', 'bench-again');
        reimport = (performance.now() - r) / 1000;
      }
    } finally {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    const out = path.join(dir, 'qemu.raw');
    fs.rmSync(out, { force: true });
    prepareRun();
    const s = performance.now();
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', '-t', 'writeback', qcow2, out]);
    qemu.push((performance.now() - s) / 1000);
    fs.rmSync(out, { force: true });
    // The disk's floor: the same number of bytes read and written durably by the plainest copy there is.
    prepareRun();
    const d = performance.now();
    execFileSync('dd', [`if=${dataOnly}`, `of=${out}`, 'bs=4M', 'oflag=direct', 'conv=fdatasync', 'status=none']);
    floor.push((performance.now() - d) / 1000);
    fs.rmSync(out, { force: true });
    console.log(`run ${run + 1}: ImportImage → Available ${ours[run].toFixed(2)} s; qemu-img convert ${qemu[run].toFixed(2)} s; dd ${floor[run].toFixed(2)} s`);
  }
  const o = median(ours);
  const q = median(qemu);
  console.log(`\nre-import of the same object (recognised): ${reimport.toFixed(2)} s; with its format declared (not recognised, every chunk stored): ${unrecognised.toFixed(2)} s`);
  console.log(`service CPU per import (user + system, median): ${median(cpu).toFixed(2)} s`);
  console.log(`MB/s = random data bytes (${DATA / MiB} MiB) / wall time; ours/qemu < 1 means we are faster.\n`);
  printTable([
    ['', 'seconds (median)', 'MB/s', '/ qemu-img'],
    ['ImportImage → Available', o.toFixed(2), mbps(o), (o / q).toFixed(2)],
    ['re-import of the same object (recognised)', reimport.toFixed(2), mbps(reimport), (reimport / q).toFixed(2)],
    ['re-import, format declared (every chunk stored)', unrecognised.toFixed(2), mbps(unrecognised), (unrecognised / q).toFixed(2)],
    ['qemu-img convert qcow2 → raw (anchor)', q.toFixed(2), mbps(q), '1.00'],
    [`dd of the ${DATA / MiB} MiB of data alone, O_DIRECT + fdatasync (the disk's floor)`, median(floor).toFixed(2), mbps(median(floor)), (median(floor) / q).toFixed(2)],
  ]);
  console.log(`\nthe service's threads during the last run's ImportImage → Available (${ours[RUNS - 1].toFixed(2)} s):`);
  printThreadTimes(threadRows);
  console.log(`\npeak RSS of the service's process during ImportImage → Available: ${(peakRss / MiB).toFixed(0)} MiB (${(idleRss / MiB).toFixed(0)} MiB just before)`);
}

/** The service as its own process on `dataDir`, with an account made beforehand through the same code as `imagehouse account create`. */
async function startService(dataDir: string): Promise<{ server: ChildServer; account: { accessKeyId: string; accessKeySecret: string } }> {
  const seeding = await createApp(loadConfig({ data: dataDir, port: '0' }, {}), { logger: false });
  const account = await createAccount(seeding.services, { name: 'bench' });
  await seeding.close();
  return { server: await spawnServer(dataDir, {}, PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), account };
}

/** A bucket with the input in it, and a finished warm-up import. */
async function prepare(server: ChildServer, account: { accessKeyId: string; accessKeySecret: string }, qcow2: string, small: string) {
  const cfg = { endpoint: server.endpoint, region: REGION, accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret };
  await createBucket(cfg, 'bench');
  await putObject(cfg, 'bench', 'input.qcow2', qcow2);
  await putObject(cfg, 'bench', 'warmup.qcow2', small);
  const client = ecsClient(server.hostPort, account);
  await importAndWait(client, 'warmup.qcow2', 'warmup');
  return { client, cfg };
}

async function importAndWait(client: any, object: string, name: string, format?: string): Promise<string> {
  const res = await client.importImage(new Ecs.ImportImageRequest({
    regionId: REGION, imageName: name, diskDeviceMapping: [new Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: 'bench', OSSObject: object, format })],
  }));
  const imageId: string = res.body.imageId;
  const start = performance.now();
  const phases = { started: 0, copied: 0 };
  for (;;) {
    const image = (await client.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, imageId, status: 'Waiting,Creating,Available,CreateFailed' }))).body.images.image[0];
    const progress = parseInt(String(image.progress ?? '0'), 10);
    if (progress > 0 && !phases.started) phases.started = performance.now() - start;
    if (progress >= 99 && !phases.copied) phases.copied = performance.now() - start;
    if (image.status === 'Available') {
      const end = performance.now() - start;
      // Poll-resolution phases: pickup + inspection until the first progress, the chunk import until ≥ 99%, then commit.
      console.log(`  ${name}: first progress after ${(phases.started / 1000).toFixed(2)} s, ≥ 99% after ${(phases.copied / 1000).toFixed(2)} s, Available after ${(end / 1000).toFixed(2)} s`);
      return imageId;
    }
    if (image.status === 'CreateFailed') throw new Error(`import failed: ${JSON.stringify(image)}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Exports the image as qcow2 and compares it with the input. */
async function verify(cfg: ClientConfig, client: any, imageId: string, raw: string): Promise<void> {
  const res = await client.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId, OSSBucket: 'bench', imageFormat: 'qcow2' }));
  for (;;) {
    const t = (await client.describeTaskAttribute(new Ecs.DescribeTaskAttributeRequest({ regionId: REGION, taskId: res.body.taskId }))).body;
    if (t.taskStatus === 'Finished') break;
    if (t.taskStatus !== 'Processing') throw new Error(`export failed: ${JSON.stringify(t)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const out = path.join(dir, 'exported.qcow2');
  await getObject(cfg, 'bench', `${imageId}_${res.body.taskId}.qcow2`, out);
  const r = execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', raw, out], { encoding: 'utf8' });
  if (!r.includes('identical')) throw new Error(`the imported image differs from the input: ${r}`);
  fs.rmSync(out);
  console.log('checked: the imported image exports back to the input bytes (qemu-img compare)');
}

/** Samples the process's RSS every 50 ms until stopped; returns the largest. */
function sampleRss(pid: number): { stop(): number } {
  let max = rssOf(pid);
  const timer = setInterval(() => (max = Math.max(max, rssOf(pid))), 50);
  return { stop: () => (clearInterval(timer), Math.max(max, rssOf(pid))) };
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}


/** Before each timed run: dirty pages written out, and with IMPORT_BENCH_DROP_CACHES=1 the page cache dropped. */
function prepareRun(): void {
  execFileSync('sync');
  if (DROP_CACHES) fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}


function mbps(seconds: number): string {
  return (DATA / 1e6 / seconds).toFixed(0);
}

function secs(start: number): string {
  return ((performance.now() - start) / 1000).toFixed(2);
}

