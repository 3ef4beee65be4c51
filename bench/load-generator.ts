/**
 * The load generator of bench/http.ts, run as its own process so the server's figures are not shared with the
 * client's CPU accounting or event loop. Keeps `connections` keep-alive sockets busy for `seconds`, signing each ECS
 * request (V1, a fresh nonce each) or sending a Keystone token, and prints one JSON line with the figures.
 * Usage: node --import tsx bench/load-generator.ts '<LoadSpec JSON>'
 */
import http from 'node:http';
import { v1Signature, v1StringToSign } from '../src/api/ecs/signature.ts';
import { seededImageId } from './support.ts';

export interface LoadSpec {
  endpoint: string;
  seconds: number;
  connections: number;
  /** ECS: signed GET /?Action=…; Glance: GET path with X-Auth-Token. `{id}` / `ImageId=random` pick a seeded image. */
  surface: 'ecs' | 'glance';
  params?: Record<string, string>;
  path?: string;
  randomIds?: number;
  accessKeyId?: string;
  accessKeySecret?: string;
  token?: string;
}

export interface LoadResult { requests: number; errors: number; seconds: number; rps: number; p50: number; p99: number }

const spec = JSON.parse(process.argv[2]) as LoadSpec;
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
const randomId = () => seededImageId(Math.floor(Math.random() * (spec.randomIds ?? 1)));
let nonce = 0;

function ecsPath(): string {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.params ?? {})) params[k] = v === 'random' ? randomId() : v;
  const all: Record<string, string> = {
    Version: '2014-05-26', Format: 'JSON', AccessKeyId: spec.accessKeyId!, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: `${process.pid}-${++nonce}`, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), RegionId: 'cn-hangzhou', ...params,
  };
  all.Signature = v1Signature(spec.accessKeySecret!, v1StringToSign('GET', all));
  return `/?${new URLSearchParams(all)}`;
}

function once(): Promise<number> {
  const path = spec.surface === 'ecs' ? ecsPath() : spec.path!.replace('{id}', randomId);
  const headers = spec.token ? { 'x-auth-token': spec.token } : {};
  return new Promise((resolve, reject) => {
    const req = http.get(`${spec.endpoint}${path}`, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

const latencies: number[] = [];
let errors = 0;
const deadline = performance.now() + spec.seconds * 1000;
const start = performance.now();
await Promise.all(Array.from({ length: spec.connections }, async () => {
  while (performance.now() < deadline) {
    const t = performance.now();
    const status = await once().catch(() => 0);
    if (status !== 200) errors++;
    latencies.push(performance.now() - t);
  }
}));
const seconds = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
// Only answered requests count: a refused one is fast and would flatter the rate.
const result: LoadResult = { requests: latencies.length, errors, seconds, rps: (latencies.length - errors) / seconds, p50: at(0.5), p99: at(0.99) };
console.log(JSON.stringify(result));
agent.destroy();
