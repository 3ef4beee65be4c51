import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pct, v1Signature, v1StringToSign, v3CanonicalRequest, v3Signature, v3StringToSign, parseV3Authorization, sha256Hex } from '../../../src/api/ecs/signature.ts';

// Captured vectors from alibaba-ecs-api.md §2.3b (secret `testSecret`).
const SECRET = 'testSecret';

test('pct encodes the characters encodeURIComponent leaves raw', () => {
  assert.equal(pct("a b*c(d)e!f'g~h"), 'a%20b%2Ac%28d%29e%21f%27g~h');
  assert.equal(pct('a+b&c=d'), 'a%2Bb%26c%3Dd');
  assert.equal(pct('杭州'), '%E6%9D%AD%E5%B7%9E');
});

test('V1: pop-core GET CopyImage vector', () => {
  const params = {
    AccessKeyId: 'testAK', Action: 'CopyImage', DestinationImageName: 'copy-1', DestinationRegionId: 'cn-shanghai', Format: 'JSON',
    ImageId: 'm-test0001', RegionId: 'cn-hangzhou', SignatureMethod: 'HMAC-SHA1', SignatureNonce: 'e084b7187f6982ae5d04b4b88839c9cc',
    SignatureVersion: '1.0', 'Tag.1.Key': 'k1', 'Tag.1.Value': 'v1', Timestamp: '2026-11-23T06:44:28Z', Version: '2014-05-26',
    Signature: 'ri8ZQwjl4VTNrp9phSxS8TMtwg0=',
  };
  const sts = v1StringToSign('GET', params);
  assert.equal(sts, 'GET&%2F&AccessKeyId%3DtestAK%26Action%3DCopyImage%26DestinationImageName%3Dcopy-1%26DestinationRegionId%3Dcn-shanghai%26Format%3DJSON%26ImageId%3Dm-test0001%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3De084b7187f6982ae5d04b4b88839c9cc%26SignatureVersion%3D1.0%26Tag.1.Key%3Dk1%26Tag.1.Value%3Dv1%26Timestamp%3D2026-11-23T06%253A44%253A28Z%26Version%3D2014-05-26');
  assert.equal(v1Signature(SECRET, sts), 'ri8ZQwjl4VTNrp9phSxS8TMtwg0=');
  assert.notEqual(v1Signature('wrongSecret', sts), 'ri8ZQwjl4VTNrp9phSxS8TMtwg0=');
});

test('V1: pop-core POST CopyImage vector with *, + and & in a value', () => {
  const params = {
    AccessKeyId: 'testAK', Action: 'CopyImage', DestinationDescription: 'a b+c&d=e*', DestinationRegionId: 'cn-shanghai', Format: 'JSON',
    ImageId: 'm-test0001', RegionId: 'cn-hangzhou', SignatureMethod: 'HMAC-SHA1', SignatureNonce: '1e47389cc46b7685b8811db669eea4b7',
    SignatureVersion: '1.0', Timestamp: '2026-11-23T06:44:28Z', Version: '2014-05-26',
  };
  assert.equal(v1Signature(SECRET, v1StringToSign('POST', params)), 'jfkD4RZhT9+cZEeikY0S82xJf2A=');
});

test('V1: legacy aliyun-sdk vector with millisecond timestamp', () => {
  const params = {
    AccessKeyId: 'testAK', Action: 'CopyImage', DestinationRegionId: 'cn-shanghai', Format: 'JSON', ImageId: 'm-test0001',
    RegionId: 'cn-hangzhou', SignatureMethod: 'HMAC-SHA1', SignatureNonce: '17954163764253626', SignatureVersion: '1.0',
    Timestamp: '2026-11-23T06:46:16.425Z', Version: '2014-05-26',
  };
  assert.equal(v1Signature(SECRET, v1StringToSign('POST', params)), 'pHXVm83jsHgHihdyxBgYDT7g6gs=');
});

test('V3: official SDK CopyImage vector', () => {
  const auth = parseV3Authorization('ACS3-HMAC-SHA256 Credential=testAK,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=988f02b990759ef5df0e74c703088732de3dfc3306474df84b8f2e922e5aa3db');
  assert.ok(auth);
  assert.equal(auth.accessKeyId, 'testAK');
  const empty = sha256Hex('');
  const creq = v3CanonicalRequest({
    method: 'POST',
    path: '/',
    query: [
      ['DestinationDescription', 'a b+c&d=e'], ['DestinationImageName', 'copy-1'], ['DestinationRegionId', 'cn-shanghai'], ['Encrypted', 'false'],
      ['ImageId', 'm-test0001'], ['RegionId', 'cn-hangzhou'], ['Tag.1.Key', 'k1'], ['Tag.1.Value', 'v1'], ['Tag.2.Key', 'k2'], ['Tag.2.Value', 'v2'],
    ],
    headers: {
      host: '127.0.0.1:18080', 'x-acs-action': 'CopyImage', 'x-acs-content-sha256': empty, 'x-acs-credentials-provider': 'static_ak',
      'x-acs-date': '2026-11-23T06:44:01Z', 'x-acs-signature-nonce': '8e73141f314f55c19bb821653606a50e5b246e5ca13e7c5a4de4111ac5a0d7a8', 'x-acs-version': '2014-05-26',
    },
    signedHeaders: auth.signedHeaders,
    payloadHash: empty,
  });
  const sts = v3StringToSign(creq);
  assert.equal(sts, 'ACS3-HMAC-SHA256\n7c38662c0c009b2c4f225ca1f0ae2f87f168610eb4e5671abefb65c51cabec4c');
  assert.equal(v3Signature(SECRET, sts), auth.signature);
});

test('V3: DescribeImages vector whose wire query leaves *() raw', () => {
  const empty = sha256Hex('');
  const url = new URL('http://x/?Filter.1.Key=CreationStartTime&Filter.1.Value=2024-01-01T00%3A00Z&ImageName=my%20image*(1)&ImageOwnerAlias=self&PageNumber=1&PageSize=50&RegionId=cn-hangzhou&Status=Available%2CCreating&Tag.1.Key=env&Tag.1.Value=prod');
  const creq = v3CanonicalRequest({
    method: 'POST', path: '/', query: [...url.searchParams.entries()],
    headers: {
      host: '127.0.0.1:18080', 'x-acs-action': 'DescribeImages', 'x-acs-content-sha256': empty, 'x-acs-credentials-provider': 'static_ak',
      'x-acs-date': '2026-11-23T06:44:01Z', 'x-acs-signature-nonce': '7bd45dc78f492e2d6a7de3fafc9e22f999b9e70f37395a5a96239e790e00c2dc', 'x-acs-version': '2014-05-26',
    },
    signedHeaders: ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-credentials-provider', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'],
    payloadHash: empty,
  });
  assert.equal(v3Signature(SECRET, v3StringToSign(creq)), '2b7c036e5427be02b18c3887cf35c838721936748c2375cf3f24c86ef45713d4');
});

test('V3: form-body request signs content-type and the body hash', () => {
  const body = 'RegionId=cn-hangzhou&Tag.1.Key=a&Tag.1.Value=b%20c';
  assert.equal(sha256Hex(body), 'a76f667ee3a8d07f46bca272909371fbbb7a5cebbb0c51d2c7be2a07c45e3060');
  const creq = v3CanonicalRequest({
    method: 'POST', path: '/', query: [],
    headers: {
      'content-type': 'application/x-www-form-urlencoded', host: '127.0.0.1:18080', 'x-acs-action': 'DescribeImages',
      'x-acs-content-sha256': sha256Hex(body), 'x-acs-credentials-provider': 'static_ak', 'x-acs-date': '2026-11-23T06:44:22Z',
      'x-acs-signature-nonce': '77751771542501d9658666da6e4e8049', 'x-acs-version': '2014-05-26',
    },
    signedHeaders: ['content-type', 'host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-credentials-provider', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'],
    payloadHash: sha256Hex(body),
  });
  assert.equal(v3Signature(SECRET, v3StringToSign(creq)), '953eccf85d82b375e161a8f632288f7712a87d41b90de14ad7f304de8167d998');
});
