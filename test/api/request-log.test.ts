/**
 * Request logs: one entry per request, as JSON lines or (IMAGEHOUSE_LOG_FORMAT=text) one short line for a person,
 * and in neither form a secret: AccessKey secrets, V1 signatures, V3 Authorization headers, Keystone passwords,
 * tokens, console sign-in bodies.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { startServer, type TestServer } from '../support/server.ts';
import { ecsClient, Ecs } from '../support/sdk.ts';
import { v1Signature, v1StringToSign } from '../../src/api/ecs/signature.ts';
import { textLine } from '../../src/api/http/logging.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { keystoneToken } from '../support/keystone.ts';

const servers: TestServer[] = [];
after(() => Promise.all(servers.map((s) => s.stop())));

async function loggingServer(format: 'json' | 'text'): Promise<{ server: TestServer; lines: () => string[]; account: NewAccount }> {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => { text += d; });
  const server = await startServer({ logStream: stream, env: { IMAGEHOUSE_LOG_FORMAT: format } });
  servers.push(server);
  const account = await server.account('logged');
  return { server, account, lines: () => text.split('\n').filter(Boolean) };
}

/** Requests that carry every kind of secret: V1 query signature, V3 Authorization, console sign-in, Keystone password. */
async function secretBearingRequests(server: TestServer, account: NewAccount): Promise<string[]> {
  const params: Record<string, string> = {
    Action: 'DescribeRegions', Version: '2014-05-26', Format: 'JSON', AccessKeyId: account.accessKeyId, SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0', SignatureNonce: `log-${Date.now()}`, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  params.Signature = v1Signature(account.accessKeySecret, v1StringToSign('GET', params));
  assert.equal((await fetch(`${server.endpoint}/?${new URLSearchParams(params)}`)).status, 200);

  await ecsClient(server.hostPort, account).describeImages(new Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou', imageOwnerAlias: 'system', pageSize: 1 }));
  // A V3 Authorization header whose signature value is known, to look for it in the logs.
  const authorization = `ACS3-HMAC-SHA256 Credential=${account.accessKeyId},SignedHeaders=host,Signature=${'ab'.repeat(32)}`;
  await fetch(`${server.endpoint}/`, { method: 'POST', headers: { authorization, 'x-acs-action': 'DescribeRegions', 'x-acs-version': '2014-05-26' } });

  const session = await fetch(`${server.endpoint}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret }) });
  const token = await keystoneToken(server.endpoint, account);
  const sessionPair = /^[^;]+/.exec(session.headers.get('set-cookie') ?? '')?.[0] ?? '';
  const cookie = sessionPair.slice(sessionPair.indexOf('=') + 1);
  assert.ok(token && cookie, 'signed in on Keystone and the console');
  await fetch(`${server.endpoint}/console/api/session`, { headers: { cookie: sessionPair } });
  await fetch(`${server.endpoint}/image/v2/images?limit=1`, { headers: { 'x-auth-token': token } });
  await new Promise((r) => setTimeout(r, 100)); // the logger writes asynchronously
  return [account.accessKeySecret, account.accessKeyId, params.Signature, encodeURIComponent(params.Signature), 'ab'.repeat(32), token, cookie];
}

for (const format of ['json', 'text'] as const) {
  test(`${format} logs: one entry per request and no secret, signature, key ID or token`, async () => {
    const { server, account, lines } = await loggingServer(format);
    const secrets = await secretBearingRequests(server, account);
    const all = lines().join('\n');
    for (const s of secrets) assert.ok(!all.includes(s), `${format} logs do not hold ${s.slice(0, 6)}…`);
    if (format === 'json') {
      const entries = lines().map((l) => JSON.parse(l));
      const v1 = entries.filter((e) => e.msg === 'request' && e.action === 'DescribeRegions' && e.req.method === 'GET');
      assert.equal(v1.length, 1, 'one entry for the one V1 request');
      assert.equal(v1[0].res.statusCode, 200);
      assert.equal(typeof v1[0].responseTime, 'number');
      assert.equal(entries.filter((e) => e.msg === 'incoming request' || e.msg === 'request completed').length, 0, 'no pair of entries per request');
    } else {
      assert.ok(lines().every((l) => !l.startsWith('{')), 'no JSON lines');
      const v1 = lines().filter((l) => / 200 GET \/ DescribeRegions [\d.]+ ms /.test(l));
      assert.equal(v1.length, 1, lines().join('\n'));
      assert.match(v1[0], /^\d\d:\d\d:\d\d\.\d{3} 200 GET \/ DescribeRegions [\d.]+ ms {2}[0-9A-F-]{36}$/);
    }
  });
}

test('a text line keeps what helps a person and drops the signing parameters', () => {
  const line = textLine({
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), level: 30, msg: 'request', reqId: 'R-1', action: 'DescribeImages', responseTime: 4.2,
    req: { method: 'GET', url: '/?Action=DescribeImages&RegionId=cn-hangzhou&Signature=***&AccessKeyId=***&SignatureNonce=n&Timestamp=t' }, res: { statusCode: 200 },
  });
  assert.equal(line, '03:04:05.006 200 GET /?RegionId=cn-hangzhou DescribeImages 4.2 ms  R-1');
  assert.equal(textLine({ time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), level: 40, msg: 'metering failed', err: { message: 'disk full' } }), '03:04:05.006 WARN metering failed  error: disk full');
});
