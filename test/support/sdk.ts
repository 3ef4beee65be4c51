/** The official Alibaba Cloud clients, pointed at a local server. */
import { createRequire } from 'node:module';
import type { NewAccount } from '../../src/services/accounts.ts';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const Ecs = require('@alicloud/ecs20140526');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const RPCClient = require('@alicloud/pop-core');

/** `@alicloud/ecs20140526` v7: V3 signatures by default, V1 with `signatureAlgorithm: 'v2'`. */
export function ecsClient(hostPort: string, account: Pick<NewAccount, 'accessKeyId' | 'accessKeySecret'>, opts: { v1?: boolean; readTimeoutMs?: number } = {}) {
  return new Ecs.default(new $OpenApiUtil.Config({
    accessKeyId: account.accessKeyId,
    accessKeySecret: account.accessKeySecret,
    endpoint: hostPort,
    protocol: 'http',
    regionId: 'cn-hangzhou',
    readTimeout: opts.readTimeoutMs ?? 10000,
    connectTimeout: 10000,
    ...(opts.v1 ? { signatureAlgorithm: 'v2' } : {}),
  }));
}

/** `@alicloud/pop-core`: V1 signatures, GET by default. */
export function popClient(endpoint: string, account: Pick<NewAccount, 'accessKeyId' | 'accessKeySecret'>) {
  return new RPCClient({ accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret, endpoint, apiVersion: '2014-05-26' });
}

/** Runs `fn` expecting the SDK to throw; returns the error. */
export async function sdkError(fn: () => Promise<unknown>): Promise<{ code: string; statusCode?: number; message: string; data?: any }> {
  try {
    await fn();
  } catch (e) {
    return e as any;
  }
  throw new Error('expected the call to fail');
}
