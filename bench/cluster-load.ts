/**
 * The external load generator of bench/cluster.ts: a separate process that sends V1-signed DescribeImages
 * requests round-robin to the given endpoints for a fixed time and prints one JSON line of results.
 * Usage: node --import tsx bench/cluster-load.ts <accessKeyId> <secret> <seconds> <concurrency> <endpoint>...
 */
import { v1Signature, v1StringToSign } from '../src/api/ecs/signature.ts';

const [accessKeyId, secret, seconds, concurrency, ...endpoints] = process.argv.slice(2);
const images = Number(process.env.BENCH_IMAGES ?? 10_000);
let nonce = 0;
let turn = 0;

function signedUrl(): string {
  const all: Record<string, string> = {
    Action: 'DescribeImages', Version: '2014-05-26', Format: 'JSON', AccessKeyId: accessKeyId, SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0', SignatureNonce: `${process.pid}-${++nonce}`, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    RegionId: 'cn-hangzhou',
    // Half lookups by ID, half a page of 10 of the account's own images: the two commonest calls.
    ...(nonce % 2 ? { ImageId: `m-bp1${Math.floor(Math.random() * images).toString(36).padStart(17, '0')}` } : { ImageOwnerAlias: 'self' }),
  };
  all.Signature = v1Signature(secret, v1StringToSign('GET', all));
  return `${endpoints[turn++ % endpoints.length]}/?${new URLSearchParams(all)}`;
}

const lat: number[] = [];
let errors = 0;
const until = performance.now() + Number(seconds) * 1000;
const start = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, async () => {
  while (performance.now() < until) {
    const s = performance.now();
    try {
      const res = await fetch(signedUrl());
      await res.arrayBuffer();
      if (res.status !== 200) errors++;
      else lat.push(performance.now() - s);
    } catch {
      errors++; // a reset connection: counted, and the client carries on as a real one would
    }
  }
}));
lat.sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? 0;
const wall = (performance.now() - start) / 1000;
const used = process.cpuUsage();
console.log(JSON.stringify({ rps: lat.length / wall, p50: pct(50), p99: pct(99), errors, cpu: (used.user + used.system) / 1e6 / wall }));
