/**
 * Where the CPU of one Glance PUT /file goes, per thread of the service (Linux /proc/PID/task): the main thread,
 * the digest workers, libuv's thread pool, V8's helpers. Optional V8 CPU profiles with UPLOAD_PROFILE_DIR, and
 * `perf record -g` of the timed upload (kernel included) with UPLOAD_PERF_OUT=FILE.
 * Env: BENCH_UPLOAD_MIB (default 1024). Usage: npm run build && node --import tsx bench/upload-threads.ts
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { spawnServer } from '../test/support/child-server.ts';
import { keystoneToken } from '../test/support/keystone.ts';
import { printThreadTimes, startPerf, threadTimes } from './support.ts';

const UPLOAD_MIB = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
const PROFILE_DIR = process.env.UPLOAD_PROFILE_DIR;
const PERF_OUT = process.env.UPLOAD_PERF_OUT;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-upthreads-'));
try {
  const seeding = await createApp(loadConfig({ data: dataDir, port: '0' }, {}), { logger: false });
  const owner = await createAccount(seeding.services, { name: `bench${process.pid}` });
  await seeding.close();
  const server = await spawnServer(dataDir, {}, PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []);
  const token = await keystoneToken(server.endpoint, owner);
  const glance = `${server.endpoint}/image/v2`;
  const file = path.join(dataDir, 'upload.raw');
  await promisify(execFile)('sh', ['-c', `head -c ${UPLOAD_MIB * 1024 * 1024} /dev/urandom > '${file}'`]);
  const headers = { 'x-auth-token': token, 'content-type': 'application/json' };
  const image = async () => ((await (await fetch(`${glance}/images`, { method: 'POST', headers, body: JSON.stringify({ name: 'u', disk_format: 'raw', container_format: 'bare' }) })).json()) as { id: string }).id;
  const upload = async (id: string, timed = true) => {
    const threads = threadTimes(server.process.pid!);
    const perf = PERF_OUT && timed ? await startPerf(server.process.pid!, PERF_OUT) : undefined;
    const t = performance.now();
    await promisify(execFile)('curl', ['-sf', '-X', 'PUT', '-H', `X-Auth-Token: ${token}`, '-H', 'Content-Type: application/octet-stream', '-T', file, `${glance}/images/${id}/file`]);
    const s = (performance.now() - t) / 1000;
    const rows = threads.stop(s);
    await perf?.stop();
    return { s, rows };
  };
  await upload(await image(), false); // warm-up
  const { s, rows } = await upload(await image());
  const total = rows.reduce((a, b) => a + b.run, 0);
  console.log(`${UPLOAD_MIB} MiB upload: ${s.toFixed(2)} s wall, ${total.toFixed(2)} s CPU (load ${os.loadavg()[0].toFixed(1)})`);
  printThreadTimes(rows);
  await server.stop();
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
