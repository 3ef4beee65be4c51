/**
 * Issue 11 item 3: a V3 signature must bind what it authorizes. A request whose SignedHeaders leave out the
 * action, version, date, nonce, payload hash or host (or, with a body, content-type) is refused before it
 * acts, on the RPC gateway and on the data endpoints alike; the official SDK and the CLI keep working.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, type TestServer } from '../../support/server.ts';
import { ecsClient, Ecs } from '../../support/sdk.ts';
import { insertCustomImage } from '../../support/images.ts';
import { sha256Hex, v3CanonicalRequest, v3Signature, v3StringToSign, V3_ALGORITHM } from '../../../src/api/ecs/signature.ts';
import { dataRequest } from '../../../src/cli/api.ts';
import type { NewAccount } from '../../../src/services/accounts.ts';

let server: TestServer;
let alice: NewAccount;

before(async () => {
  server = await startServer();
  alice = await server.account('alice');
});
after(() => server.stop());

const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

interface Signed { url: string; init: RequestInit }

/** Signs like the SDK, but only over `signed` (lower-case header names); the other headers travel unsigned. */
function sign(opts: { method?: string; path?: string; query?: [string, string][]; headers: Record<string, string>; body?: string; signed: string[]; payloadHash?: string }): Signed {
  const method = opts.method ?? 'POST';
  const path = opts.path ?? '/';
  const query = opts.query ?? [];
  const headers: Record<string, string> = { host: server.hostPort, ...opts.headers };
  const payloadHash = opts.payloadHash ?? sha256Hex(opts.body ?? '');
  const creq = v3CanonicalRequest({ method, path, query, headers, signedHeaders: opts.signed, payloadHash });
  const signature = v3Signature(alice.accessKeySecret, v3StringToSign(creq));
  const { host: _h, ...rest } = headers;
  const qs = query.length ? `?${new URLSearchParams(query)}` : '';
  return {
    url: `${server.endpoint}${path}${qs}`,
    init: { method, headers: { ...rest, authorization: `${V3_ALGORITHM} Credential=${alice.accessKeyId},SignedHeaders=${opts.signed.join(';')},Signature=${signature}` }, body: opts.body },
  };
}

function rpcHeaders(action: string): Record<string, string> {
  return {
    'x-acs-action': action, 'x-acs-version': '2014-05-26', 'x-acs-date': isoNow(),
    'x-acs-signature-nonce': crypto.randomBytes(16).toString('hex'), 'x-acs-content-sha256': sha256Hex(''),
  };
}

const REQUIRED = ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'];

async function send(s: Signed): Promise<{ status: number; body: any }> {
  const res = await fetch(s.url, s.init);
  return { status: res.status, body: await res.json() };
}

test('the attack from the issue: a request signed over host alone cannot be turned into DeleteImage', async () => {
  const image = await insertCustomImage(server.app.services.db, { id: 'm-sigbind0000000000001', region: 'cn-hangzhou', owner_id: alice.accountId, name: 'keep-me' });
  const forged = sign({ query: [['RegionId', 'cn-hangzhou'], ['ImageId', image.id]], headers: rpcHeaders('DeleteImage'), signed: ['host'] });
  const r = await send(forged);
  assert.equal(r.status, 400);
  assert.equal(r.body.Code, 'IncompleteSignature');
  const row = await server.app.services.db.selectFrom('images').select('status').where('id', '=', image.id).executeTakeFirst();
  assert.ok(row, 'the image is still there');
});

test('leaving any required header out of SignedHeaders is IncompleteSignature', async () => {
  for (const missing of REQUIRED) {
    const signed = REQUIRED.filter((h) => h !== missing);
    const r = await send(sign({ query: [['RegionId', 'cn-hangzhou']], headers: rpcHeaders('DescribeRegions'), signed }));
    assert.equal(r.body.Code, 'IncompleteSignature', `without ${missing}: ${r.status} ${r.body.Code}`);
  }
  const ok = await send(sign({ query: [['RegionId', 'cn-hangzhou']], headers: rpcHeaders('DescribeRegions'), signed: REQUIRED }));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test('upper-case names in SignedHeaders do not count as signing the header', async () => {
  const signed = REQUIRED.map((h) => (h === 'x-acs-action' ? 'X-Acs-Action' : h));
  const r = await send(sign({ headers: rpcHeaders('DescribeRegions'), signed }));
  assert.equal(r.body.Code, 'IncompleteSignature');
});

test('a request with a body must sign content-type', async () => {
  const body = 'RegionId=cn-hangzhou';
  const headers = { ...rpcHeaders('DescribeRegions'), 'content-type': 'application/x-www-form-urlencoded', 'x-acs-content-sha256': sha256Hex(body) };
  const unsignedType = await send(sign({ headers, body, signed: REQUIRED }));
  assert.equal(unsignedType.body.Code, 'IncompleteSignature');
  const signedType = await send(sign({ headers, body, signed: [...REQUIRED, 'content-type'].sort() }));
  assert.equal(signedType.status, 200, JSON.stringify(signedType.body));
});

test('V1: the action and version come from the signed parameters, never from unsigned headers', async () => {
  const { v1Signature, v1StringToSign } = await import('../../../src/api/ecs/signature.ts');
  const params: Record<string, string> = {
    Version: '2014-05-26', AccessKeyId: alice.accessKeyId, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0', RegionId: 'cn-hangzhou',
    SignatureNonce: crypto.randomBytes(8).toString('hex'), Timestamp: isoNow(),
  };
  params.Signature = v1Signature(alice.accessKeySecret, v1StringToSign('GET', params));
  const res = await fetch(`${server.endpoint}/?${new URLSearchParams(params)}`, { headers: { 'x-acs-action': 'DescribeRegions' } });
  const body = (await res.json()) as any;
  assert.equal(body.Code, 'MissingParameter', JSON.stringify(body));
});

test('the official SDK still signs what the gateway requires (V3 and V1)', async () => {
  for (const v1 of [false, true]) {
    const client = ecsClient(server.hostPort, alice, { v1 });
    const r = await client.describeRegions(new Ecs.DescribeRegionsRequest({}));
    assert.ok(r.body.regions.region.length > 0);
  }
});

test('data endpoints: host, date, nonce and payload hash must be signed; the CLI client signs them', async () => {
  const cfg = { endpoint: server.endpoint, region: 'cn-hangzhou', accessKeyId: alice.accessKeyId, accessKeySecret: alice.accessKeySecret };
  const ok = await dataRequest(cfg, 'GET', '/buckets', {});
  assert.equal(ok.status, 200);
  const base = {
    'x-acs-date': isoNow(), 'x-acs-content-sha256': 'UNSIGNED-PAYLOAD',
  };
  const need = ['host', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce'];
  for (const missing of need) {
    const signed = need.filter((h) => h !== missing);
    const r = await send(sign({ method: 'GET', path: '/buckets', headers: { ...base, 'x-acs-signature-nonce': crypto.randomBytes(16).toString('hex') }, signed, payloadHash: 'UNSIGNED-PAYLOAD' }));
    assert.equal(r.body.Code, 'IncompleteSignature', `data endpoint without ${missing}: ${r.status} ${r.body.Code}`);
  }
  const good = await send(sign({ method: 'GET', path: '/buckets', headers: { ...base, 'x-acs-signature-nonce': crypto.randomBytes(16).toString('hex') }, signed: need, payloadHash: 'UNSIGNED-PAYLOAD' }));
  assert.equal(good.status, 200, JSON.stringify(good.body));
  // A bill is read with the same rule.
  const bill = await send(sign({ method: 'GET', path: '/billing/bill', query: [['Month', '2026-01']], headers: { ...base, 'x-acs-signature-nonce': crypto.randomBytes(16).toString('hex') }, signed: ['host'], payloadHash: 'UNSIGNED-PAYLOAD' }));
  assert.equal(bill.body.Code, 'IncompleteSignature');
});
