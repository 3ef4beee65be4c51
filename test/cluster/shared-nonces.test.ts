/**
 * Nonce replay windows across nodes (issue 14): two nodes on one PostgreSQL database, as scripts/cluster.sh runs
 * them. A signed request replayed to the other node, word for word, is refused there; V1 (SignatureNonce in the
 * query) and V3 (x-acs-signature-nonce, the official SDK's) alike, and in both directions.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NewAccount } from '../../src/services/accounts.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { Ecs, ecsClient } from '../support/sdk.ts';
import { postgresBaseUrl } from '../support/stores.ts';
import { needing } from '../support/requires.ts';
import { v1SignedQuery } from '../support/v1.ts';

const { after, before, test } = needing('postgres');

let a: TestServer;
let b: TestServer;
let alice: NewAccount;

before(async () => {
  // Nodes of one cluster share the master key (access key secrets are sealed with it) and the database.
  const env = { IMAGEHOUSE_MASTER_KEY: crypto.randomBytes(32).toString('hex') };
  a = await startServer({ postgresBaseUrl: postgresBaseUrl(), env });
  b = await startServer({ databaseUrl: a.databaseUrl, env });
  alice = await a.account('alice');
});
after(async () => {
  await b?.stop();
  await a?.stop();
});

/** A V1-signed DescribeRegions query string with the given nonce. */
function signedQuery(nonce: string): string {
  return v1SignedQuery(alice, { Action: 'DescribeRegions' }, nonce);
}

async function call(node: TestServer, query: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(node.endpoint + query);
  const body = (await res.json()) as { Code?: string };
  return { status: res.status, code: body.Code };
}

test('a nonce used on node A is refused on node B, and one used on B is refused on A', async () => {
  const first = signedQuery(crypto.randomUUID());
  assert.equal((await call(a, first)).status, 200);
  assert.deepEqual(await call(b, first), { status: 400, code: 'SignatureNonceUsed' });
  assert.deepEqual(await call(a, first), { status: 400, code: 'SignatureNonceUsed' }, 'and on A itself');

  const second = signedQuery(crypto.randomUUID());
  assert.equal((await call(b, second)).status, 200, 'B accepts a fresh nonce: only the replay is refused');
  assert.deepEqual(await call(a, second), { status: 400, code: 'SignatureNonceUsed' });
});

test('the same replay sent to both nodes at once is accepted exactly once', async () => {
  const query = signedQuery(crypto.randomUUID());
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => call(i % 2 ? b : a, query)));
  assert.equal(results.filter((r) => r.status === 200).length, 1);
  assert.deepEqual(new Set(results.filter((r) => r.status !== 200).map((r) => r.code)), new Set(['SignatureNonceUsed']));
});

/** One request as the official SDK signs it (V3 headers), captured by a listener that only records it. */
async function sdkSignedRequest(): Promise<{ method: string; path: string; headers: http.OutgoingHttpHeaders; body: Buffer }> {
  const recorded: { method: string; path: string; headers: http.OutgoingHttpHeaders; body: Buffer }[] = [];
  const recorder = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      recorded.push({ method: req.method!, path: req.url!, headers: { ...req.headers }, body: Buffer.concat(parts) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ RequestId: 'recorded' }));
    });
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  try {
    await ecsClient(`127.0.0.1:${(recorder.address() as AddressInfo).port}`, alice).describeRegions(new Ecs.DescribeRegionsRequest({})).catch(() => {});
  } finally {
    recorder.close();
  }
  assert.equal(recorded.length, 1);
  return recorded[0];
}

/** Replays a captured request to `node` byte for byte (the signed Host header included). */
function replay(node: TestServer, r: Awaited<ReturnType<typeof sdkSignedRequest>>): Promise<{ status: number; code?: string }> {
  const url = new URL(node.endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: r.path, method: r.method, headers: r.headers }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, code: (JSON.parse(body) as { Code?: string }).Code }));
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

test('V3 (the official SDK\'s header nonce): a request replayed to the other node is refused', async () => {
  const signed = await sdkSignedRequest();
  assert.ok(signed.headers['x-acs-signature-nonce'], 'a V3 request');
  assert.equal((await replay(a, signed)).status, 200);
  assert.deepEqual(await replay(b, signed), { status: 400, code: 'SignatureNonceUsed' });
});
