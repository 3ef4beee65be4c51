/**
 * The load generator of bench/http.ts, bench/cluster.ts and bench/glance.ts, run as its own process (bench/support.ts runLoad) so the
 * server's figures are not shared with the client's CPU accounting or event loop. Keeps `connections` keep-alive
 * sockets busy for `seconds`, round-robin over the endpoints, signing each ECS request (V1, a fresh nonce each) or
 * sending a Keystone token (Glance GETs, or POSTs of one JSON body), and prints one JSON line with the figures (per
 * interval too, with `intervalSeconds`).
 * Usage: node --import tsx bench/load-generator.ts '<LoadSpec JSON>'
 */
import http from 'node:http';
import { v1Signature, v1StringToSign } from '../src/api/ecs/signature.ts';
import { seededImageId, seededSnapshotId } from './support.ts';

export interface LoadSpec {
  /** Taken in turn, one per request. */
  endpoints: string[];
  seconds: number;
  connections: number;
  /**
   * ECS: signed GET /?Action=… with the parameter sets taken in turn; Glance: GET path with X-Auth-Token.
   * `{id}` in the path and the value `random` pick a seeded image, the value `random-snapshot` a seeded image's
   * snapshot, and `{<N}` inside a value a number below N (a different name filter each request, say).
   */
  surface: 'ecs' | 'glance';
  params?: Record<string, string>[];
  path?: string;
  /** Glance only: POST this JSON body instead of a GET (201 counts as answered, like 200). */
  postBody?: string;
  randomIds?: number;
  accessKeyId?: string;
  accessKeySecret?: string;
  token?: string;
  /** Also report throughput and latency for each period of this many seconds (bench/load-soak.ts). */
  intervalSeconds?: number;
}

/** One period of a run: `t` is its end, in seconds from the start. */
export interface IntervalResult { t: number; requests: number; errors: number; rps: number; p50: number; p99: number; max: number }

/**
 * `cpu`: the generator's own CPU seconds per second, to tell when it, not the server, is the limit.
 * `failures`: failed requests by kind, an HTTP status with the error code of the body (`429 Throttling.User`) or a
 * socket error code (`ECONNRESET`), so a report says what failed instead of guessing.
 */
export interface LoadResult {
  requests: number; errors: number; failures: Record<string, number>; seconds: number; rps: number; p50: number; p99: number; max: number; cpu: number;
  intervals?: IntervalResult[];
}

const spec = JSON.parse(process.argv[2]) as LoadSpec;
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
const randomBelow = (n: number) => Math.floor(Math.random() * n);
const randomId = () => seededImageId(randomBelow(spec.randomIds ?? 1));
function paramValue(v: string): string {
  if (v === 'random') return randomId();
  if (v === 'random-snapshot') return seededSnapshotId(randomBelow(spec.randomIds ?? 1));
  return v.replace(/\{<(\d+)\}/g, (_, n: string) => String(randomBelow(Number(n))));
}
let nonce = 0;
let turn = 0;

function ecsPath(): string {
  const params: Record<string, string> = {};
  const sets = spec.params ?? [{}];
  for (const [k, v] of Object.entries(sets[nonce % sets.length])) params[k] = paramValue(v);
  const all: Record<string, string> = {
    Version: '2014-05-26', Format: 'JSON', AccessKeyId: spec.accessKeyId!, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: `${process.pid}-${++nonce}`, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), RegionId: 'cn-hangzhou', ...params,
  };
  all.Signature = v1Signature(spec.accessKeySecret!, v1StringToSign('GET', all));
  return `/?${new URLSearchParams(all)}`;
}

/** Resolves with undefined on a 200 or 201, or the kind of failure. */
function once(): Promise<string | undefined> {
  const path = spec.surface === 'ecs' ? ecsPath() : spec.path!.replace('{id}', randomId);
  const headers: Record<string, string> = spec.token ? { 'x-auth-token': spec.token } : {};
  if (spec.postBody !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve) => {
    const url = `${spec.endpoints[turn++ % spec.endpoints.length]}${path}`;
    const req = http.request(url, { agent, headers, method: spec.postBody === undefined ? 'GET' : 'POST' }, (res) => {
      if (res.statusCode === 200 || res.statusCode === 201) {
        res.resume();
        res.on('end', () => resolve(undefined));
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(`${res.statusCode} ${/"(?:Code|code|error_code)"\s*:\s*"([^"]+)"/.exec(body)?.[1] ?? ''}`.trim()));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end(spec.postBody);
  });
}

const latencies: number[] = [];
let errors = 0;
const failures: Record<string, number> = {};
const deadline = performance.now() + spec.seconds * 1000;
const start = performance.now();
// With intervalSeconds: each request's end (ms from the start), latency and outcome, bucketed at the end.
const ends: number[] = [];
const oks: boolean[] = [];
await Promise.all(Array.from({ length: spec.connections }, async () => {
  while (performance.now() < deadline) {
    const t = performance.now();
    const failure = await once();
    const end = performance.now();
    if (failure !== undefined) {
      errors++;
      failures[failure] = (failures[failure] ?? 0) + 1;
    }
    latencies.push(end - t);
    if (spec.intervalSeconds) { ends.push(end - start); oks.push(failure === undefined); }
  }
}));
const seconds = (performance.now() - start) / 1000;
const intervals = spec.intervalSeconds ? byInterval(spec.intervalSeconds * 1000) : undefined;
latencies.sort((a, b) => a - b);
// Only answered requests count: a refused one is fast and would flatter the rate.
const used = process.cpuUsage();
const result: LoadResult = {
  requests: latencies.length, errors, failures, seconds, rps: (latencies.length - errors) / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99),
  max: latencies.at(-1) ?? 0, cpu: (used.user + used.system) / 1e6 / seconds, ...(intervals ? { intervals } : {}),
};
console.log(JSON.stringify(result));
agent.destroy();

/** Requests by the period they ended in; the last period also takes what ended after the deadline. */
function byInterval(ms: number): IntervalResult[] {
  const count = Math.max(1, Math.ceil((spec.seconds * 1000) / ms));
  const periods = Array.from({ length: count }, () => ({ latencies: [] as number[], errors: 0 }));
  ends.forEach((end, i) => {
    const p = periods[Math.min(count - 1, Math.floor(end / ms))];
    p.latencies.push(latencies[i]);
    if (!oks[i]) p.errors++;
  });
  return periods.map((p, k) => {
    const l = p.latencies.sort((a, b) => a - b);
    const t = Math.min(spec.seconds, (k + 1) * (ms / 1000));
    const length = t - k * (ms / 1000);
    return { t, requests: l.length, errors: p.errors, rps: (l.length - p.errors) / length, p50: percentile(l, 0.5), p99: percentile(l, 0.99), max: l.at(-1) ?? 0 };
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}
