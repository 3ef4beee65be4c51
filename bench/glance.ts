/**
 * Glance v2 speed against Glance Zed's figures on this kind of machine (issue 12, spec §0/§2): a 1 GiB upload
 * (Glance 5.0 s), GET /v2/images/{id} (Glance 112 req/s), a list of 100 (Glance 60 ms), creates (Glance 26/s).
 * The server runs in this process; the load comes from outside it: curl for the upload, wrk for the rest.
 * Usage: node --import tsx bench/glance.ts   (BENCH_UPLOAD_MIB, default 1024; BENCH_SECONDS per wrk run, default 10)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { keystoneToken } from '../test/support/keystone.ts';

/** Async: the server runs in this process, so a synchronous child would block it. */
const run = async (cmd: string, args: string[]) => (await promisify(execFile)(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 })).stdout;

const UPLOAD_MIB = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ANCHORS = { uploadS: 5.0, getPerS: 112, list100Ms: 60, createsPerS: 26 };

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-glance-'));
const app = await createApp(loadConfig({ data: dataDir, port: '0', 'nbd-port': '0' }, {
  IMAGEHOUSE_DATABASE_URL: process.env.IMAGEHOUSE_DATABASE_URL ?? '', IMAGEHOUSE_IMAGE_QUOTA: '10000000', IMAGEHOUSE_LOG_LEVEL: 'warn',
  IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS: '0', IMAGEHOUSE_REQUESTS_PER_ACCOUNT: '1000',
}), { logger: false });
await app.nbd.listen(0);
const endpoint = await app.server.listen({ port: 0, host: '127.0.0.1' });
const acc = await createAccount(app.services, { name: 'bench' });
const token = await keystoneToken(endpoint, acc);
const glance = `${endpoint}/image/v2`;
const headers = { 'x-auth-token': token, 'content-type': 'application/json' };
const create = async (name: string) => (await (await fetch(`${glance}/images`, { method: 'POST', headers, body: JSON.stringify({ name, disk_format: 'raw', container_format: 'bare' }) })).json()) as { id: string };

/** Runs wrk (up to 2 threads, `conns` connections) and returns requests/s and the p50 latency in ms. */
async function wrk(url: string, conns: number, script?: string): Promise<{ perS: number; p50Ms: number }> {
  const args = [`-t${Math.min(2, conns)}`, `-c${conns}`, `-d${SECONDS}s`, '--latency', '-H', `X-Auth-Token: ${token}`, ...(script ? ['-s', script] : []), url];
  const out = await run('wrk', args);
  const perS = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const m = /50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p50Ms = m ? Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]] : NaN;
  return { perS, p50Ms };
}

// 1. Upload: curl streams a file of random bytes; the image is active (fsync'd chunks, hashes, inspection) when it answers.
const file = path.join(dataDir, 'upload.raw');
await run('sh', ['-c', `head -c ${UPLOAD_MIB * 1024 * 1024} /dev/urandom > '${file}'`]);
const up = await create('upload');
const t0 = performance.now();
await run('curl', ['-sf', '-X', 'PUT', '-H', `X-Auth-Token: ${token}`, '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${file}`, `${glance}/images/${up.id}/file`]);
const uploadS = (performance.now() - t0) / 1000;
fs.rmSync(file);

// 2. Creates: wrk POSTs new images.
const script = path.join(dataDir, 'create.lua');
fs.writeFileSync(script, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '{"name":"bench","disk_format":"raw","container_format":"bare"}'\n`);
const creates = await wrk(`${glance}/images`, 8, script);

// 3. GET one image, 4. list 100 (over the images the creates left).
const get = await wrk(`${glance}/images/${up.id}`, 16);
const list = await wrk(`${glance}/images?limit=100`, 1);
const count = (await (await fetch(`${glance}/images?limit=1000`, { headers })).json()) as { images: unknown[] };

// Glance's 1 GiB time, scaled to the size uploaded here.
const glanceUploadS = ANCHORS.uploadS * (UPLOAD_MIB / 1024);
const rows = [
  [`${UPLOAD_MIB} MiB upload (PUT /file), s`, uploadS.toFixed(2), glanceUploadS.toFixed(2), `${(glanceUploadS / uploadS).toFixed(1)}x`],
  ['GET /v2/images/{id}, req/s (16 conns)', get.perS.toFixed(0), ANCHORS.getPerS, `${(get.perS / ANCHORS.getPerS).toFixed(1)}x`],
  [`list of 100 (of ${count.images.length}+ images), p50 ms (1 conn)`, list.p50Ms.toFixed(2), ANCHORS.list100Ms, `${(ANCHORS.list100Ms / list.p50Ms).toFixed(1)}x`],
  ['POST /v2/images, creates/s (8 conns)', creates.perS.toFixed(0), ANCHORS.createsPerS, `${(creates.perS / ANCHORS.createsPerS).toFixed(1)}x`],
];
console.log(`| measure | imagehouse | Glance Zed | ratio |\n|---|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}`);
console.log(`(upload ${UPLOAD_MIB} MiB; wrk ${SECONDS} s per figure; ${app.store.dialect})`);
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
