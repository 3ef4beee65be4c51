/** ECS V1 signing for tests that send raw requests (the SDKs sign their own): the query string of a signed GET. */
import crypto from 'node:crypto';
import { v1Signature, v1StringToSign } from '../../src/api/ecs/signature.ts';

export function v1SignedQuery(keys: { accessKeyId: string; accessKeySecret: string }, params: Record<string, string>, nonce: string = crypto.randomUUID()): string {
  const all: Record<string, string> = {
    Version: '2014-05-26', Format: 'JSON', AccessKeyId: keys.accessKeyId, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: nonce, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...params,
  };
  all.Signature = v1Signature(keys.accessKeySecret, v1StringToSign('GET', all));
  return `/?${new URLSearchParams(all)}`;
}
