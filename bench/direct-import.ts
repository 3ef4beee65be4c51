/**
 * Direct import (`imagehouse image import FILE`, POST /images/import) of a qcow2 holding 1 GiB of random data: the
 * upload (until the CLI prints the image, the file spooled durably and its sha256 taken) against `cp` + `sync` of
 * the same file (one durable copy), and the whole import until DescribeImages says Available against
 * `qemu-img convert -O raw -t writeback` of it. Runs alternate, median of RUNS. Then one more import runs under
 * another account's DescribeImages by ID (bench/load-generator.ts, its own process, 4 connections), to show what an
 * import costs other tenants, against the same load on an idle service. The service and the CLI are processes of their own
 * (`npm run build` first).
 * Env: DIRECT_BENCH_DATA_MIB (default 1024), DIRECT_BENCH_RUNS (default 3), DIRECT_BENCH_DIR (default the OS temp dir).
 * Usage: node --import tsx bench/direct-import.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { spawnServer } from '../test/support/child-server.ts';
import { Ecs, ecsClient } from '../test/support/sdk.ts';
import { buildSparseRaw, median, MiB, printTable, printThreadTimes, runLoad, secondsSince, seedImages, threadTimes } from './support.ts';
import type { LoadResult } from './load-generator.ts';

const DATA = Number(process.env.DIRECT_BENCH_DATA_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.DIRECT_BENCH_RUNS ?? 3);
const BIN = path.resolve(import.meta.dirname, '../bin/imagehouse.js');
const REGION = 'cn-hangzhou';
const SEED = 1000;
const POLL_MS = 25;

const dir = fs.mkdtempSync(path.join(process.env.DIRECT_BENCH_DIR ?? os.tmpdir(), 'ih-bench-direct-'));
try {
  await main();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const raw = path.join(dir, 'input.raw');
  const qcow2 = path.join(dir, 'input.qcow2');
  buildSparseRaw(raw, DATA, DATA, 1);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  fs.rmSync(raw);
  const fileMiB = fs.statSync(qcow2).size / MiB;

  const dataDir = path.join(dir, 'service');
  const seeding = await createApp(loadConfig({ data: dataDir, port: '0' }, {}), { logger: false });
  const uploader = await createAccount(seeding.services, { name: 'uploader' });
  const other = await createAccount(seeding.services, { name: 'other' });
  await seedImages(seeding.services.db, other.accountId, SEED);
  await seeding.close();
  const server = await spawnServer(dataDir, { IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS: '0' });
  const client = ecsClient(server.hostPort, uploader);
  const cliEnv = {
    ...process.env, IMAGEHOUSE_ENDPOINT: server.endpoint, IMAGEHOUSE_ACCESS_KEY_ID: uploader.accessKeyId,
    IMAGEHOUSE_ACCESS_KEY_SECRET: uploader.accessKeySecret, IMAGEHOUSE_REGION: REGION, IMAGEHOUSE_CONFIG: path.join(dir, 'none.json'),
  };
  const otherLoad = (seconds: number) => runLoad({
    endpoints: [server.endpoint], seconds, connections: 4, surface: 'ecs', randomIds: SEED,
    accessKeyId: other.accessKeyId, accessKeySecret: other.accessKeySecret,
    params: [{ Action: 'DescribeImages', ImageId: 'random' }],
  });

  const upload: number[] = [], whole: number[] = [], cp: number[] = [], qemu: number[] = [];
  let idle: LoadResult | undefined, busy: LoadResult | undefined, loaded: { upload: number; whole: number } | undefined;
  try {
    await importFile(cliEnv, client, qcow2, 'warmup'); // starts the service's workers
    for (let run = 0; run < RUNS; run++) {
      const copy = path.join(dir, 'copy.qcow2');
      let t = performance.now();
      execFileSync('sh', ['-c', `cp '${qcow2}' '${copy}' && sync '${copy}'`]);
      cp.push(secondsSince(t));
      fs.rmSync(copy);
      const out = path.join(dir, 'out.raw');
      t = performance.now();
      execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', '-t', 'writeback', qcow2, out]);
      qemu.push(secondsSince(t));
      fs.rmSync(out);
      const timed = await importFile(cliEnv, client, qcow2, `bench-${run}`, run === RUNS - 1 ? server.process.pid : undefined);
      upload.push(timed.upload);
      whole.push(timed.whole);
      console.log(`run ${run + 1}: upload ${timed.upload.toFixed(2)} s, Available ${timed.whole.toFixed(2)} s; cp + sync ${cp[run].toFixed(2)} s, qemu-img convert ${qemu[run].toFixed(2)} s`);
    }
    const load = otherLoad(Math.ceil(median(whole) + 1));
    await new Promise((r) => setTimeout(r, 300)); // the load generator has started sending
    loaded = await importFile(cliEnv, client, qcow2, 'under-load');
    busy = await load;
    idle = await otherLoad(3);
  } finally {
    await server.stop();
  }
  const u = median(upload), w = median(whole), c = median(cp), q = median(qemu);
  console.log(`\n${fileMiB.toFixed(0)} MiB qcow2 holding ${DATA / MiB} MiB of random data; median of ${RUNS}, runs alternating\n`);
  printTable([
    ['what', 'seconds', 'anchor', 'anchor s', 'ratio'],
    ['image import: upload spooled and hashed', u.toFixed(2), 'cp + sync FILE', c.toFixed(2), (u / c).toFixed(2)],
    ['image import: until Available', w.toFixed(2), 'qemu-img convert -O raw -t writeback', q.toFixed(2), (w / q).toFixed(2)],
  ]);
  console.log(`\nanother account's DescribeImages by ID (4 connections, separate process), on an idle service and during one more import (upload ${loaded!.upload.toFixed(2)} s, Available ${loaded!.whole.toFixed(2)} s under that load):`);
  printTable([
    ['', 'req/s', 'p50 ms', 'p99 ms', 'max ms'],
    ...([['idle', idle!], ['during an import', busy!]] as const).map(([name, r]) => [name, r.rps.toFixed(0), r.p50.toFixed(1), r.p99.toFixed(1), r.max.toFixed(1)]),
  ]);
}

/** `imagehouse image import FILE` (its own process) until it prints the image, then DescribeImages until Available. */
async function importFile(env: NodeJS.ProcessEnv, client: any, file: string, name: string, serverPid?: number): Promise<{ upload: number; whole: number }> {
  const t = performance.now();
  const child = spawn(process.execPath, [BIN, 'image', 'import', file, '--name', name, '--json'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`image import exited ${code}: ${out}`);
  const upload = secondsSince(t);
  const threads = serverPid ? threadTimes(serverPid) : undefined;
  const imageId: string = JSON.parse(out).ImageId;
  let started = 0;
  for (;;) {
    const image = (await client.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, imageId, status: 'Waiting,Creating,Available,CreateFailed' }))).body.images.image[0];
    if (!started && parseInt(String(image.progress ?? '0'), 10) > 0) started = secondsSince(t);
    if (image.status === 'Available') {
      const whole = secondsSince(t);
      console.log(`  ${name}: uploaded after ${upload.toFixed(2)} s, first progress after ${started.toFixed(2)} s, Available after ${whole.toFixed(2)} s`);
      if (threads) printThreadTimes(threads.stop(whole - upload));
      return { upload, whole };
    }
    if (image.status === 'CreateFailed') throw new Error(`${name}: CreateFailed`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
