/** Huawei's AK/SK signature as the official SDK core makes it, and what the server refuses. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServerWith, type TestWorld } from '../../support/server.ts';
import { ImsClient, imsError } from '../../support/ims-client.ts';
import { keystoneToken } from '../../support/keystone.ts';

type Any = any;

async function sendRaw(req: { url: string; method: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; json: Any }> {
  const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
  return { status: res.status, json: await res.json() };
}

describe('IMS AK/SK signature (SDK-HMAC-SHA256)', () => {
  let world: TestWorld<'alice' | 'bob'>;
  let ims: ImsClient;
  const listReq = { method: 'GET' as const, url: '/v2/cloudimages', queryParams: { __imagetype: 'gold', limit: '2' } };
  const patchReq = (id: string) => ({ method: 'PATCH' as const, url: '/v2/cloudimages/{image_id}', pathParams: { image_id: id }, data: [{ op: 'replace', path: '/name', value: 'x' }] });

  before(async () => {
    world = await startServerWith(['alice', 'bob']);
    ims = ImsClient.for(world.server.hostPort, world.accounts.alice);
  });
  after(() => world.server.stop());

  it('accepts the SDK-signed request, with X-Project-Id the account (Keystone project) id', async () => {
    const signed = await ims.sign(listReq);
    assert.match(signed.headers.Authorization, /^SDK-HMAC-SHA256 Access=\S+, SignedHeaders=\S*x-project-id\S*, Signature=[0-9a-f]{64}$/);
    assert.equal(signed.headers['X-Project-Id'], world.accounts.alice.accountId);
    const out = await ims.listImages({ __imagetype: 'gold', limit: '2' });
    assert.equal(out.images.length, 2);
    for (const img of out.images) assert.equal(img.__imagetype, 'gold');
  });

  it('accepts a signed body and query with characters that need encoding', async () => {
    const out = await ims.listImages({ name: 'no such image ~ (é) *', __os_type: 'Linux' });
    assert.deepEqual(out.images, []);
    const err = await imsError(() => ims.updateImage('m-doesnotexist', [{ op: 'replace', path: '/name', value: 'a b+c/ü' }]));
    assert.equal(err.httpStatusCode, 404); // authenticated, then the image is not found
  });

  it('refuses a wrong secret', async () => {
    const wrong = ImsClient.for(world.server.hostPort, world.accounts.alice, { secret: world.accounts.bob.accessKeySecret });
    const err = await imsError(() => wrong.listImages());
    assert.equal(err.httpStatusCode, 401);
    assert.equal(err.errorCode, 'APIGW.0301');
  });

  it('refuses an unknown AccessKey', async () => {
    const unknown = ImsClient.for(world.server.hostPort, { ...world.accounts.alice, accessKeyId: 'LTAInotakey0000000000000' });
    const err = await imsError(() => unknown.listImages());
    assert.equal(err.httpStatusCode, 401);
    assert.match(err.errorMsg, /access key does not exist/);
  });

  it('refuses another project than the key\'s own', async () => {
    const other = ImsClient.for(world.server.hostPort, world.accounts.alice, { projectId: world.accounts.bob.accountId });
    const err = await imsError(() => other.listImages());
    assert.equal(err.httpStatusCode, 403);
    assert.equal(err.errorCode, 'APIGW.0302');
    const err2 = await imsError(() => ims.send({ method: 'GET', url: '/v1/{pid}/jobs/{job_id}', pathParams: { pid: world.accounts.bob.accountId, job_id: 'x' } }));
    assert.equal(err2.httpStatusCode, 403);
  });

  it('refuses a tampered signed header, query or body', async () => {
    const signed = await ims.sign(listReq);
    assert.equal((await sendRaw(signed)).status, 200);
    const otherProject = await sendRaw({ ...signed, headers: { ...signed.headers, 'X-Project-Id': world.accounts.bob.accountId } });
    assert.equal(otherProject.status, 401);
    assert.equal(otherProject.json.error_code, 'APIGW.0301');
    assert.equal((await sendRaw({ ...signed, url: signed.url.replace('limit=2', 'limit=3') })).status, 401);
    assert.equal((await sendRaw({ ...signed, url: signed.url + '&status=active' })).status, 401);
    const patch = await ims.sign(patchReq('m-whatever'));
    assert.equal((await sendRaw(patch)).status, 404);
    assert.equal((await sendRaw({ ...patch, body: patch.body!.replace('"x"', '"y"') })).status, 401);
    assert.equal((await sendRaw({ ...patch, url: patch.url.replace('m-whatever', 'm-whatevex') })).status, 401);
  });

  it('takes UNSIGNED-PAYLOAD for a non-JSON body only (as the SDK signs json-patch), never for a JSON body', async () => {
    const jsonPatch = await ims.sign({ ...patchReq('m-whatever'), contentType: 'application/openstack-images-v2.1-json-patch' });
    assert.equal(jsonPatch.headers['X-Sdk-Content-Sha256'], 'UNSIGNED-PAYLOAD');
    assert.equal((await sendRaw(jsonPatch)).status, 404, 'authenticated, then the image is not found');
    const json = await ims.sign({ ...patchReq('m-whatever'), headers: { 'X-Sdk-Content-Sha256': 'UNSIGNED-PAYLOAD' } });
    assert.match(json.headers.Authorization, /x-sdk-content-sha256/);
    const refused = await sendRaw(json);
    assert.deepEqual([refused.status, refused.json.error_code], [401, 'APIGW.0301']);
    assert.match(refused.json.error_msg, /X-Sdk-Content-Sha256/);
  });

  it('refuses a date outside ±15 minutes, a malformed date, and an unsigned date or host', async () => {
    const signed = await ims.sign(listReq);
    const shifted = (min: number) => new Date(Date.now() + min * 60_000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    for (const d of [shifted(-16), shifted(16), '2026-01-01T00:00:00Z']) {
      const out = await sendRaw({ ...signed, headers: { ...signed.headers, 'X-Sdk-Date': d } });
      assert.equal(out.status, 401, d);
      assert.match(out.json.error_msg, /X-Sdk-Date/);
    }
    const dropped = signed.headers.Authorization.replace(/SignedHeaders=\S+,/, 'SignedHeaders=content-type;x-project-id,');
    const out = await sendRaw({ ...signed, headers: { ...signed.headers, Authorization: dropped } });
    assert.equal(out.status, 401);
    assert.match(out.json.error_msg, /SignedHeaders must include host, x-sdk-date/);
  });

  it('takes a Keystone token instead (X-Auth-Token), checked against X-Project-Id', async () => {
    const token = await keystoneToken(world.server.endpoint, world.accounts.alice);
    const ok = await fetch(`${world.server.endpoint}/v2/cloudimages?__imagetype=gold&limit=1`, { headers: { 'x-auth-token': token } });
    assert.equal(ok.status, 200);
    const wrong = await fetch(`${world.server.endpoint}/v2/cloudimages`, { headers: { 'x-auth-token': token, 'x-project-id': world.accounts.bob.accountId } });
    assert.equal(wrong.status, 403);
    const none = await fetch(`${world.server.endpoint}/v2/cloudimages`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as Any).error_code, 'APIGW.0301');
    const bad = await fetch(`${world.server.endpoint}/v2/cloudimages`, { headers: { 'x-auth-token': 'nope' } });
    assert.equal(bad.status, 401);
  });
});
