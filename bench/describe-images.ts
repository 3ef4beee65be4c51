/**
 * DescribeImages with 100k custom images in the store: requests/s and p50/p99 latency of typical
 * filtered queries, through the real HTTP gateway with V1-signed requests (signature + nonce + query).
 * Anchor (disk-formats/peers research on this machine): Glance Zed serves ~100 GET /v2/images/{id} per second
 * and lists 100 images in ~60 ms. Usage: node --import tsx bench/describe-images.ts [imageCount] [requestsPerQuery]
 * BENCH_CONCURRENCY (default 8) requests in flight; 1 gives single-request latency. BENCH_ONLY=<label part> runs one query.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { v1Signature, v1StringToSign } from '../src/api/ecs/signature.ts';
import { seedImages, seededImageId, seededSnapshotId } from './support.ts';

const IMAGES = Number(process.argv[2] ?? 100_000);
const REQUESTS = Number(process.argv[3] ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const GLANCE_GET_PER_S = 100;
const GLANCE_LIST100_MS = 60;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-'));
const app = await createApp(loadConfig({ data: dataDir, port: '0' }, { IMAGEHOUSE_DATABASE_URL: process.env.IMAGEHOUSE_DATABASE_URL ?? '' }), { logger: false });
const endpoint = await app.server.listen({ port: 0, host: '127.0.0.1' });
const owner = await createAccount(app.services, { name: 'bench' });

const t0 = performance.now();
await seedImages(app.services.db, owner.accountId, IMAGES);
await app.store.optimize(); // what the server's hourly maintenance does after growth
console.log(`seeded ${IMAGES} images in ${((performance.now() - t0) / 1000).toFixed(1)} s (${app.store.dialect})`);

let nonce = 0;
function signedUrl(params: Record<string, string>): string {
  const all: Record<string, string> = {
    Action: 'DescribeImages', Version: '2014-05-26', Format: 'JSON', AccessKeyId: owner.accessKeyId, SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0', SignatureNonce: `${process.pid}-${++nonce}`, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    RegionId: 'cn-hangzhou', ...params,
  };
  all.Signature = v1Signature(owner.accessKeySecret, v1StringToSign('GET', all));
  return `${endpoint}/?${new URLSearchParams(all)}`;
}

const queries: [string, () => Record<string, string>][] = [
  ['by ImageId', () => ({ ImageId: seededImageId(Math.floor(Math.random() * IMAGES)) })],
  ['own images, page of 10', () => ({ ImageOwnerAlias: 'self' })],
  ['own images, page of 100', () => ({ ImageOwnerAlias: 'self', PageSize: '100' })],
  ['family + arm64, page of 100', () => ({ ImageFamily: 'db', Architecture: 'arm64', PageSize: '100' })],
  ['name substring, page of 10', () => ({ ImageName: `img_web_${Math.floor(Math.random() * 99)}` })],
  ['default set (system+self+shared), page 50', () => ({ PageNumber: '50', PageSize: '20' })],
  ['by SnapshotId', () => ({ SnapshotId: seededSnapshotId(Math.floor(Math.random() * IMAGES)) })],
];

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
console.log(`\n${'query'.padEnd(44)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
const results: Record<string, { rps: number; p50: number; p99: number }> = {};
const only = process.env.BENCH_ONLY;
for (const [label, make] of queries) {
  if (only && !label.includes(only)) continue;
  for (let i = 0; i < 20; i++) await (await fetch(signedUrl(make()))).arrayBuffer(); // warm up
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < REQUESTS) {
      const s = performance.now();
      const res = await fetch(signedUrl(make()));
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${label}: HTTP ${res.status} ${body}`);
      lat.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  results[label] = { rps: lat.length / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
  console.log(`${label.padEnd(44)} ${results[label].rps.toFixed(0).padStart(8)} ${results[label].p50.toFixed(2).padStart(8)} ${results[label].p99.toFixed(2).padStart(8)}`);
}
const byId = results['by ImageId'] as (typeof results)[string] | undefined;
const list100 = results['own images, page of 100'] as (typeof results)[string] | undefined;
console.log(`\nanchor Glance Zed: ${GLANCE_GET_PER_S} GET/s by id, ${GLANCE_LIST100_MS} ms to list 100`);
if (byId) console.log(`ratio by id: ${(byId.rps / GLANCE_GET_PER_S).toFixed(1)}x Glance's requests/s`);
if (list100) console.log(`ratio list 100: ${(GLANCE_LIST100_MS / list100.p50).toFixed(1)}x faster than Glance at p50`);
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
