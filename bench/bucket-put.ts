/**
 * `imagehouse bucket put` of a sparse raw file against `cp` of the same file into the bucket's folder (the anchor:
 * GNU cp skips holes), both made durable (our put fsyncs; cp is followed by `sync FILE`). Runs alternate, median
 * of RUNS; also reports the blocks each copy allocates. Then `imagehouse bucket get` of the object back against `cp` of
 * it out of the bucket's folder, the same way. The server runs in this process, the CLI in its own.
 * Run `npm run build` first (the bin uses dist/ when it is fresh).
 *
 * Env: PUT_BENCH_VIRTUAL_MIB (default 8192), PUT_BENCH_DATA_MIB (default 512, 16 extents), PUT_BENCH_RUNS (default 3).
 * Usage: node --import tsx bench/bucket-put.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { createBucket } from '../src/cli/commands/transfer/client.ts';
import { median, MiB, printTable } from './support.ts';

const VIRTUAL = Number(process.env.PUT_BENCH_VIRTUAL_MIB ?? 8192) * MiB;
const DATA = Number(process.env.PUT_BENCH_DATA_MIB ?? 512) * MiB;
const RUNS = Number(process.env.PUT_BENCH_RUNS ?? 3);
const BIN = path.resolve(import.meta.dirname, '../bin/imagehouse.js');
const SUPPORT = pathToFileURL(path.resolve(import.meta.dirname, 'support.ts')).href;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-put-'));
const app = await createApp(loadConfig({ data: dataDir, port: '0', 'nbd-port': '0' }, {}), { logger: false, worker: false });
try {
  const endpoint = await app.server.listen({ port: 0, host: '127.0.0.1' });
  const account = await createAccount(app.services, { name: 'bench' });
  const cfg = { endpoint, region: 'cn-hangzhou', accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret };
  await createBucket(cfg, 'bench');
  const bucketDir = path.join(dataDir, 'buckets', 'bench');
  const input = path.join(dataDir, 'input.raw');
  // Built in a child process: in this one, the build's 512 MiB of short-lived buffers left V8 collecting the old
  // generation every ~80 ms during the puts that followed (the server's 64 KiB body pieces then hit the external
  // memory limit), which doubled `bucket put`'s time.
  const build = `import(${JSON.stringify(SUPPORT)}).then((m) => m.buildSparseRaw(${JSON.stringify(input)}, ${VIRTUAL}, ${DATA}, 16))`;
  execFileSync(process.execPath, ['--import', 'tsx', '-e', build]);
  execFileSync('sync');
  const env = {
    ...process.env, IMAGEHOUSE_ENDPOINT: endpoint, IMAGEHOUSE_ACCESS_KEY_ID: account.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: account.accessKeySecret,
    IMAGEHOUSE_REGION: 'cn-hangzhou', IMAGEHOUSE_CONFIG: path.join(dataDir, 'none.json'),
  };
  const run = async (cmd: string, args: string[]) => {
    const t = performance.now();
    const code = await new Promise<number | null>((resolve) => spawn(cmd, args, { env, stdio: 'ignore' }).once('exit', resolve));
    if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}`);
    return (performance.now() - t) / 1000;
  };
  const allocatedMiB = (file: string) => (fs.statSync(file).blocks * 512) / MiB;
  const ours: number[] = [];
  const cp: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const target = path.join(bucketDir, `cp-${i}.raw`);
    cp.push(await run('sh', ['-c', `cp --sparse=auto "$0" "$1" && sync "$1"`, input, target]));
    ours.push(await run(process.execPath, [BIN, 'bucket', 'put', 'bench', input, '--key', `put-${i}.raw`]));
    console.log(`run ${i + 1}: cp ${cp[i].toFixed(2)} s, bucket put ${ours[i].toFixed(2)} s (1-min load average ${os.loadavg()[0].toFixed(1)})`);
  }
  // Back down: `bucket get` (a sparse body: the server reads and sends the data extents only) against `cp` of the
  // object out of the bucket's folder, both into new files and durable.
  const gets: number[] = [];
  const cpOut: number[] = [];
  const outDir = fs.mkdtempSync(path.join(dataDir, 'out-'));
  for (let i = 0; i < RUNS; i++) {
    const copy = path.join(outDir, `cp-${i}.raw`);
    cpOut.push(await run('sh', ['-c', `cp --sparse=auto "$0" "$1" && sync "$1"`, path.join(bucketDir, 'put-0.raw'), copy]));
    gets.push(await run(process.execPath, [BIN, 'bucket', 'get', 'bench', 'put-0.raw', '--output', path.join(outDir, `get-${i}.raw`)]));
    console.log(`run ${i + 1}: cp out ${cpOut[i].toFixed(2)} s, bucket get ${gets[i].toFixed(2)} s (1-min load average ${os.loadavg()[0].toFixed(1)})`);
    fs.rmSync(copy);
    if (i > 0) fs.rmSync(path.join(outDir, `get-${i}.raw`));
  }
  // After the runs: cmp reads the holes of both 8 GiB files as zero-filled page cache, 15 GiB that the runs after it
  // had to reclaim first.
  if (!execFileSync('cmp', [input, path.join(bucketDir, 'put-0.raw')], { encoding: 'utf8' }).length) console.log('checked: the object holds the input bytes (cmp)');
  if (!execFileSync('cmp', [input, path.join(outDir, 'get-0.raw')], { encoding: 'utf8' }).length) console.log('checked: the download holds the input bytes (cmp)');
  console.log(`${VIRTUAL / MiB} MiB sparse raw file with ${DATA / MiB} MiB of data in 16 extents; median of ${RUNS}, runs alternating\n`);
  const o = median(ours);
  const c = median(cp);
  printTable([
    ['what', 'seconds', 'allocated MiB', '/ cp'],
    ['imagehouse bucket put', o.toFixed(2), allocatedMiB(path.join(bucketDir, 'put-0.raw')).toFixed(0), (o / c).toFixed(2)],
    ['cp --sparse=auto + sync FILE (anchor)', c.toFixed(2), allocatedMiB(path.join(bucketDir, 'cp-0.raw')).toFixed(0), '1.00'],
  ]);
  const g = median(gets);
  const co = median(cpOut);
  console.log('');
  printTable([
    ['what', 'seconds', 'allocated MiB', '/ cp', 'GiB/s of the file\'s size'],
    ['imagehouse bucket get (sparse body)', g.toFixed(2), allocatedMiB(path.join(outDir, 'get-0.raw')).toFixed(0), (g / co).toFixed(2), (VIRTUAL / 1024 / MiB / g).toFixed(1)],
    ['cp --sparse=auto + sync FILE out of the bucket folder (anchor)', co.toFixed(2), '', '1.00', (VIRTUAL / 1024 / MiB / co).toFixed(1)],
  ]);
} finally {
  await app.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
