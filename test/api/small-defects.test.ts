/**
 * Issue 11 item 5, one test per defect: repeated keys, malformed cookies and JSON values, list indices beyond
 * their maximum, 16-digit owner IDs, control characters, console security headers, secrets in logs, client
 * aborts in logs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { startServer, type TestServer } from '../support/server.ts';
import { insertCustomImage } from '../support/images.ts';
import { v1Signature, v1StringToSign } from '../../src/api/ecs/signature.ts';
import { signHeaders } from '../../src/cli/api.ts';
import { UNSIGNED_PAYLOAD } from '../../src/api/ecs/auth.ts';
import type { NewAccount } from '../../src/services/accounts.ts';

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
const logLines: any[] = [];

before(async () => {
  const logStream = new PassThrough();
  let buf = '';
  logStream.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try { logLines.push(JSON.parse(line)); } catch { logLines.push({ raw: line }); }
    }
  });
  server = await startServer({ logStream });
  alice = await server.account('alice');
  bob = await server.account('bob');
});
after(() => server.stop());

let nonce = 0;
function v1Query(account: NewAccount, params: Record<string, string>, method = 'GET'): URLSearchParams {
  const all: Record<string, string> = {
    Version: '2014-05-26', Format: 'JSON', AccessKeyId: account.accessKeyId, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: `small-${process.pid}-${++nonce}`, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...params,
  };
  all.Signature = v1Signature(account.accessKeySecret, v1StringToSign(method, all));
  return new URLSearchParams(all);
}

async function call(account: NewAccount, params: Record<string, string>): Promise<{ status: number; body: any; text: string; type: string }> {
  const res = await fetch(`${server.endpoint}/?${v1Query(account, params)}`);
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, text, type, body: type.includes('json') ? JSON.parse(text) : undefined };
}

async function dataCall(account: NewAccount, method: string, path: string, query: [string, string][]): Promise<{ status: number; body: any }> {
  const cfg = { endpoint: server.endpoint, region: 'cn-hangzhou', accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret };
  const headers = signHeaders(cfg, method, path, query, {}, UNSIGNED_PAYLOAD);
  const qs = query.length ? `?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}` : '';
  const res = await fetch(`${server.endpoint}${path}${qs}`, { method, headers });
  return { status: res.status, body: await res.json() };
}

test('a repeated query key is InvalidParameter.Duplicate on the RPC gateway and on every data endpoint', async () => {
  const q = v1Query(alice, { Action: 'DescribeRegions' });
  q.append('RegionId', 'cn-hangzhou');
  q.append('RegionId', 'cn-beijing');
  const rpc = await fetch(`${server.endpoint}/?${q}`);
  assert.equal(rpc.status, 400);
  assert.equal(((await rpc.json()) as any).Code, 'InvalidParameter.Duplicate');

  const made = await dataCall(alice, 'PUT', '/buckets/dup-keys', [['RegionId', 'cn-hangzhou']]);
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const cases: [string, string, [string, string][]][] = [
    ['GET', '/buckets/dup-keys/object', [['Key', 'a'], ['Key', 'b']]],
    ['PUT', '/buckets/dup-keys/object', [['Key', 'a'], ['Key', 'b']]],
    ['DELETE', '/buckets/dup-keys/object', [['Key', 'a'], ['Key', 'b']]],
    ['GET', '/buckets/dup-keys/objects', [['Prefix', 'a'], ['Prefix', 'b']]],
    ['GET', '/buckets', [['RegionId', 'cn-hangzhou'], ['RegionId', 'cn-hangzhou']]],
    ['PUT', '/buckets/dup-keys2', [['RegionId', 'cn-hangzhou'], ['RegionId', 'cn-beijing']]],
    ['POST', '/images/import', [['RegionId', 'cn-hangzhou'], ['RegionId', 'cn-beijing']]],
    ['GET', '/billing/bill', [['Month', '2026-01'], ['Month', '2026-02']]],
    ['GET', '/disks/d-nothing/content', [['a', '1'], ['a', '2']]],
  ];
  for (const [method, path, query] of cases) {
    const r = await dataCall(alice, method, path, query);
    assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.Code, 'InvalidParameter.Duplicate', `${method} ${path}`);
  }
});

async function consoleSession(account: NewAccount): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${server.endpoint}/console/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as any;
  return { cookie: res.headers.get('set-cookie')!.split(';')[0], csrf: body.CsrfToken };
}

test('console: a malformed cookie is no session, an object-valued parameter is InvalidParameter', async () => {
  const bad = await fetch(`${server.endpoint}/console/api/session`, { headers: { cookie: 'ih_console=%E0%A4%A' } });
  assert.equal(bad.status, 404);
  assert.equal(((await bad.json()) as any).Code, 'InvalidAccessKeyId.NotFound');
  const s = await consoleSession(alice);
  for (const body of ['{"RegionId":{"toString":1}}', '{"RegionId":["cn-hangzhou"]}', '[1]', '"x"', '{"__proto__":{"RegionId":"x"}}']) {
    const res = await fetch(`${server.endpoint}/console/api/call/DescribeRegions`, {
      method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'content-type': 'application/json' }, body,
    });
    assert.ok(res.status === 400 || res.status === 200, `${body}: HTTP ${res.status}`);
    if (res.status !== 200) assert.equal(((await res.json()) as any).Code, 'InvalidParameter', body);
  }
});

test('console pages and API answers carry CSP, X-Frame-Options and nosniff', async () => {
  for (const path of ['/console/', '/console/app.js', '/console/api/session']) {
    const res = await fetch(`${server.endpoint}${path}`);
    await res.arrayBuffer();
    assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
  }
});

test('N beyond a list maximum is refused, not dropped: DataDisk.17, Tag.21, AddAccount.11, index 0 and 01', async () => {
  const base = { Action: 'RunInstances', RegionId: 'cn-hangzhou', ImageId: 'ubuntu_24_04_x64_20G_alibase_20240812.vhd', InstanceType: 'ecs.g7.large', DryRun: 'true' };
  const ok = await call(alice, { ...base, 'DataDisk.16.Size': '20' });
  assert.equal(ok.body.Code, 'DryRunOperation', JSON.stringify(ok.body));
  const d17 = await call(alice, { ...base, 'DataDisk.17.Size': '20' });
  assert.equal(d17.body.Code, 'InvalidParameter', JSON.stringify(d17.body));
  assert.match(d17.body.Message, /DataDisk\.17/);
  for (const key of ['DataDisk.0.Size', 'DataDisk.01.Size', 'DataDisk.99999999999999999999.Size']) {
    const r = await call(alice, { ...base, [key]: '20' });
    assert.equal(r.body.Code, 'InvalidParameter', key);
  }
  const tag = await call(alice, { Action: 'DescribeImages', RegionId: 'cn-hangzhou', 'Tag.21.Key': 'k' });
  assert.equal(tag.body.Code, 'InvalidTagCount');
  const share = await call(alice, { Action: 'ModifyImageSharePermission', RegionId: 'cn-hangzhou', ImageId: 'm-nothing', 'AddAccount.11': '1' });
  assert.equal(share.body.Code, 'InvalidParameter');
  assert.match(share.body.Message, /AddAccount\.11/);
});

test('ImageOwnerId takes a 16-digit account ID', async () => {
  const image = await insertCustomImage(server.app.services.db, { id: 'm-bp1owner16digits00001', region: 'cn-hangzhou', owner_id: bob.accountId, name: 'shared16' });
  await server.app.services.db.insertInto('image_shares').values({ image_id: image.id, account_id: alice.accountId, created_at: Date.now() }).execute();
  assert.equal(bob.accountId.length, 16);
  const r = await call(alice, { Action: 'DescribeImages', RegionId: 'cn-hangzhou', ImageOwnerAlias: 'others', ImageOwnerId: bob.accountId });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.Images.Image.map((i: any) => i.ImageId), [image.id]);
  assert.equal(String(r.body.Images.Image[0].ImageOwnerId), bob.accountId);
});

test('control characters: refused in descriptions, names and tags; never break XML', async () => {
  const image = await insertCustomImage(server.app.services.db, { id: 'm-bp1controlchars00001', region: 'cn-hangzhou', owner_id: alice.accountId, name: 'ctl' });
  for (const [field, code] of [['Description', 'InvalidDescription.Malformed'], ['ImageName', 'InvalidImageName.Malformed']] as const) {
    for (const ch of ['\u0000', '\u0001', '\u001b', '\u007f', '\u0085']) {
      const r = await call(alice, { Action: 'ModifyImageAttribute', RegionId: 'cn-hangzhou', ImageId: image.id, [field]: `ab${ch}cd` });
      assert.equal(r.body.Code, code, `${field} with U+${ch.charCodeAt(0).toString(16)}`);
    }
  }
  const tag = await call(alice, { Action: 'CreateSnapshot', DiskId: 'd-nothing', 'Tag.1.Key': 'k', 'Tag.1.Value': 'a\u0007b' });
  assert.equal(tag.body.Code, 'InvalidTagValue.Malformed');
  // Stored before the rule, or echoed back in an error: the XML stays well-formed.
  await server.app.services.db.updateTable('images').set({ description: 'bad\u0001\u0008\ud800 <&> end' }).where('id', '=', image.id).execute();
  const xml = await call(alice, { Action: 'DescribeImages', RegionId: 'cn-hangzhou', ImageId: image.id, Format: 'XML' });
  assert.equal(xml.status, 200, xml.text);
  assertWellFormed(xml.text);
  assert.match(xml.text, /<Description>bad\uFFFD{3,} &lt;&amp;&gt; end<\/Description>/);
  const q = v1Query(alice, { Action: 'DescribeRegions', Format: 'XML', 'a\u0001': '1' });
  q.append('a\u0001', '2');
  const err = await fetch(`${server.endpoint}/?${q}`);
  assertWellFormed(await err.text());
});

test('disk names: control characters and other malformed names are InvalidDiskName.Malformed, and launch nothing', async () => {
  const launch = (extra: Record<string, string>) => call(alice, {
    Action: 'RunInstances', RegionId: 'cn-hangzhou', ImageId: 'ubuntu_24_04_x64_20G_alibase_20240812.vhd', InstanceType: 'ecs.g7.large', ...extra,
  });
  const instances = async () => (await server.app.services.db.selectFrom('instances').select('id').where('owner_id', '=', alice.accountId).execute()).length;
  const before = await instances();
  for (const ch of ['\u0000', '\u0007', '\u001b', '\u007f', '\u0085']) {
    for (const field of ['SystemDisk.DiskName', 'DataDisk.1.DiskName']) {
      const r = await launch({ [field]: `disk${ch}name`, ...(field.startsWith('DataDisk') ? { 'DataDisk.1.Size': '20' } : {}) });
      assert.equal(r.body.Code, 'InvalidDiskName.Malformed', `${field} with U+${ch.charCodeAt(0).toString(16)}: ${r.text}`);
      assert.equal(r.status, 400);
    }
  }
  for (const bad of ['x', '1disk', 'http://disk', 'a'.repeat(129)]) {
    assert.equal((await launch({ 'SystemDisk.DiskName': bad })).body.Code, 'InvalidDiskName.Malformed', bad);
  }
  assert.equal(await instances(), before, 'no instance was launched');
  const ok = await launch({ 'SystemDisk.DiskName': 'system-disk_1', 'DataDisk.1.Size': '20', 'DataDisk.1.DiskName': '数据盘:1' });
  assert.equal(ok.status, 200, ok.text);
  const names = await server.app.services.db.selectFrom('disks').select('name').where('instance_id', '=', ok.body.InstanceIdSets.InstanceIdSet[0]).orderBy('name').execute();
  assert.deepEqual(names.map((n) => n.name), ['system-disk_1', '数据盘:1']);
});

/** No character XML 1.0 forbids, no unescaped markup characters in text. */
function assertWellFormed(xml: string): void {
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/, 'only XML 1.0 characters');
  const text = xml.replace(/<\?xml[^?]*\?>/, '').replace(/<\/?[A-Za-z][A-Za-z0-9]*\/?>/g, '');
  assert.doesNotMatch(text, /[<>]|&(?!(lt|gt|amp|apos|quot|#\d+);)/, 'markup characters are escaped');
}

test('logs never hold Signature or AccessKeyId values', async () => {
  const q = v1Query(alice, { Action: 'DescribeRegions' });
  const sig = q.get('Signature')!;
  await (await fetch(`${server.endpoint}/?${q}`)).arrayBuffer();
  await (await fetch(`${server.endpoint}/?Action=DescribeRegions&AccessKeyId=${alice.accessKeyId}&Signature=${encodeURIComponent(sig)}&SecurityToken=tok123secret`)).arrayBuffer();
  await new Promise((r) => setTimeout(r, 50));
  const text = logLines.map((l) => JSON.stringify(l)).join('\n');
  assert.ok(logLines.some((l) => l.req?.url?.includes('Action=DescribeRegions')), 'requests are logged');
  assert.ok(!text.includes(alice.accessKeyId), 'no AccessKeyId in logs');
  assert.ok(!text.includes(sig) && !text.includes(encodeURIComponent(sig)), 'no Signature in logs');
  assert.ok(!text.includes('tok123secret'), 'no SecurityToken in logs');
  assert.ok(!text.includes(alice.accessKeySecret));
});

test('a client that aborts an upload is not logged as an error', async () => {
  const made = await dataCall(alice, 'PUT', '/buckets/abort-me', [['RegionId', 'cn-hangzhou']]);
  assert.equal(made.status, 200);
  const before = logLines.length;
  const cfg = { endpoint: server.endpoint, region: 'cn-hangzhou', accessKeyId: alice.accessKeyId, accessKeySecret: alice.accessKeySecret };
  const headers = signHeaders(cfg, 'PUT', '/buckets/abort-me/object', [['Key', 'big']], {}, UNSIGNED_PAYLOAD);
  const { port } = new URL(server.endpoint);
  const socket = net.connect(Number(port), '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const lines = [`PUT /buckets/abort-me/object?Key=big HTTP/1.1`, `host: ${server.hostPort}`, 'content-length: 10485760', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  socket.write(crypto.randomBytes(256 * 1024));
  await new Promise((r) => setTimeout(r, 300));
  socket.destroy();
  await new Promise((r) => setTimeout(r, 500));
  const after = logLines.slice(before);
  assert.ok(after.length > 0, 'the request was logged');
  const errors = after.filter((l) => l.level >= 50);
  assert.deepEqual(errors, [], 'no error-level entries');
});
