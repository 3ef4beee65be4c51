import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestServer } from '../support/server.ts';
import { ACTIONS } from '../../src/api/ecs/dispatch.ts';
import { v1Signature, v1StringToSign } from '../../src/api/ecs/signature.ts';
import type { NewAccount } from '../../src/services/accounts.ts';

let server: TestServer;
let alice: NewAccount;
let nonce = 0;

before(async () => {
  ({ server, accounts: { alice } } = await startServerWith(['alice']));
});
after(() => server.stop());

async function call(params: Record<string, string>, method: 'GET' | 'POST' = 'GET') {
  const all: Record<string, string> = {
    Version: '2014-05-26', Format: 'JSON', AccessKeyId: alice.accessKeyId, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: `bad-input-${++nonce}`, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...params,
  };
  all.Signature = v1Signature(alice.accessKeySecret, v1StringToSign(method, all));
  const body = new URLSearchParams(all).toString();
  const res = method === 'GET'
    ? await fetch(`${server.endpoint}/?${body}`)
    : await fetch(`${server.endpoint}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const JUNK = ['', 'x'.repeat(5000), '-1', '99999999999999999999', 'true', '[]', '{"a":1}', '../../etc/passwd', "'; drop table images; --", '\u0000', '杭州', 'NaN'];

test('every action answers junk parameters with a clean 4xx error, never a 500 or a success body with Code', async () => {
  for (const action of ACTIONS.keys()) {
    const schema = ACTIONS.get(action)!.schema;
    const names = Object.keys(schema).flatMap((k) => {
      const f = schema[k];
      return f.type === 'list' ? [`${k}.1`] : f.type === 'structs' ? Object.keys(f.fields).map((x) => `${k}.1.${x}`) : f.type === 'object' ? Object.keys(f.fields).map((x) => `${k}.${x}`) : [k];
    });
    for (const [i, junk] of JUNK.entries()) {
      const params: Record<string, string> = { Action: action };
      for (const n of names) params[n] = junk;
      if (i % 2) params.RegionId = 'cn-hangzhou';
      const { status, body } = await call(params, i % 3 ? 'GET' : 'POST');
      assert.ok(body.RequestId, `${action}: RequestId on every response`);
      if (status === 200) {
        assert.equal(body.Code, undefined, `${action} with ${JSON.stringify(junk)}: success bodies carry no Code`);
      } else {
        assert.ok(status >= 400 && status < 500, `${action} with ${JSON.stringify(junk).slice(0, 40)}: HTTP ${status} ${body.Code} ${body.Message}`);
        assert.ok(body.Code && body.Message && body.HostId && body.Recommend, `${action}: the full error shape`);
      }
    }
  }
});

test('authentication failures are distinct errors', async () => {
  const unsigned = await fetch(`${server.endpoint}/?Action=DescribeRegions&Version=2014-05-26&AccessKeyId=${alice.accessKeyId}`);
  assert.equal(((await unsigned.json()) as any).Code, 'MissingParameter');
  const noKey = await fetch(`${server.endpoint}/?Action=DescribeRegions&Version=2014-05-26`);
  assert.equal(((await noKey.json()) as any).Code, 'MissingParameter');
  const badVersion = await call({ Action: 'DescribeRegions', Version: '2016-01-01' });
  assert.equal(badVersion.body.Code, 'InvalidVersion');
  const badTime = await call({ Action: 'DescribeRegions', Timestamp: 'yesterday' });
  assert.equal(badTime.body.Code, 'InvalidTimeStamp.Format');
  const future = await call({ Action: 'DescribeRegions', Timestamp: '2099-01-01T00:00:00Z' });
  assert.equal(future.body.Code, 'InvalidTimeStamp.Expired');
  const tampered = await fetch(`${server.endpoint}/?Action=DescribeRegions&Version=2014-05-26&AccessKeyId=${alice.accessKeyId}&SignatureNonce=t1&Timestamp=${new Date().toISOString().slice(0, 19)}Z&Signature=AAAA`);
  const t = (await tampered.json()) as any;
  assert.equal(t.Code, 'SignatureDoesNotMatch');
  assert.match(t.Message, /server string to sign is:GET&%2F&/);
  const elsewhere = await fetch(`${server.endpoint}/no/such/path`);
  assert.equal(elsewhere.status, 404);
  const e = (await elsewhere.json()) as any;
  assert.equal(e.Code, 'InvalidAction.NotFound');
  assert.ok(e.RequestId);
  const badAuth = await fetch(`${server.endpoint}/`, { method: 'POST', headers: { authorization: 'ACS3-HMAC-SHA256 garbage', 'x-acs-action': 'DescribeRegions', 'x-acs-version': '2014-05-26' } });
  assert.equal(((await badAuth.json()) as any).Code, 'IncompleteSignature');
});

test("one account's IDs never reveal another account's images", async () => {
  const bob = await server.account('bob');
  const { insertCustomImage } = await import('../support/images.ts');
  await insertCustomImage(server.app.services.db, { id: 'm-bp1secretimage0000001', region: 'cn-hangzhou', owner_id: bob.accountId, name: 'bobs_secret' });
  const probe = await call({ Action: 'DescribeImages', RegionId: 'cn-hangzhou', ImageId: 'm-bp1secretimage0000001', Status: 'ALL' });
  assert.equal(probe.body.TotalCount, 0);
  const byName = await call({ Action: 'DescribeImages', RegionId: 'cn-hangzhou', ImageName: 'bobs_secret', Status: 'ALL' });
  assert.equal(byName.body.TotalCount, 0);
  for (const action of ['ModifyImageAttribute', 'DeleteImage', 'DescribeImageSharePermission', 'ModifyImageSharePermission']) {
    const r = await call({ Action: action, RegionId: 'cn-hangzhou', ImageId: 'm-bp1secretimage0000001', ImageName: 'mine_now' });
    assert.equal(r.body.Code, 'InvalidImageId.NotFound', action);
  }
  const missing = await call({ Action: 'DeleteImage', RegionId: 'cn-hangzhou', ImageId: 'm-bp1doesnotexist000001' });
  assert.equal(missing.body.Code, 'InvalidImageId.NotFound', 'a foreign image and a missing one answer alike');
});
