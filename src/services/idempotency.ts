/**
 * `ClientToken` idempotency for creating actions: the same token with the same parameters returns the first
 * response; the same token with different parameters is IdempotentParameterMismatch.
 */
import crypto from 'node:crypto';
import type { Services } from './context.ts';
import { apiError } from '../domain/errors.ts';

/** Protocol parameters that differ between retries of the same call. */
const VOLATILE = new Set(['Signature', 'SignatureNonce', 'Timestamp', 'AccessKeyId', 'SignatureMethod', 'SignatureVersion', 'Format', 'Version', 'Action']);

export function paramsHash(params: Record<string, unknown>): string {
  const stable = Object.entries(params).filter(([k, v]) => !VOLATILE.has(k) && v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return crypto.createHash('sha256').update(JSON.stringify(stable)).digest('hex');
}

export async function withClientToken<T extends Record<string, unknown>>(
  services: Pick<Services, 'db' | 'clock'>,
  key: { accountId: string; action: string; token: string | undefined; params: Record<string, unknown> },
  create: () => Promise<T>,
): Promise<T> {
  const { db } = services;
  if (!key.token) return create();
  if (key.token.length > 64 || !/^[\x20-\x7e]+$/.test(key.token)) throw apiError('InvalidClientToken.Malformed');
  const hash = paramsHash(key.params);
  const lookup = () => db.selectFrom('idempotency').select(['params_hash', 'response'])
    .where('account_id', '=', key.accountId).where('action', '=', key.action).where('token', '=', key.token!).executeTakeFirst();
  const seen = await lookup();
  if (seen) {
    if (seen.params_hash !== hash) throw apiError('IdempotentParameterMismatch');
    return JSON.parse(seen.response) as T;
  }
  const response = await create();
  const inserted = await db.insertInto('idempotency')
    .values({ account_id: key.accountId, action: key.action, token: key.token, params_hash: hash, response: JSON.stringify(response), created_at: services.clock.now() })
    .onConflict((oc) => oc.columns(['account_id', 'action', 'token']).doNothing()).executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
    // A concurrent call with the same token won the race: answer as it did.
    const winner = await lookup();
    if (winner && winner.params_hash === hash) return JSON.parse(winner.response) as T;
    throw apiError('IdempotentParameterMismatch');
  }
  return response;
}
