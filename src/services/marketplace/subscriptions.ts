/**
 * Subscriptions: who may run a product's images. Free and hourly products are subscribed once (hourly
 * usage is metered per instance-hour); a monthly subscription is bought for N months, paid up front and
 * extended from its current end; a BYOL product is bought once for its one-time price.
 */
import { randomBase36 } from '../../domain/ids.ts';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import { billingDb, type SubscriptionRow } from '../billing/tables.ts';
import { prices } from '../billing/prices.ts';
import { requireProduct } from './products.ts';

const HOUR = 3_600_000;

/** The subscription in force for `accountId` on `code` at `at`, if any. */
export async function activeSubscription(services: Pick<Services, 'db' | 'clock' | 'regions'>, accountId: string, code: string, at: number): Promise<SubscriptionRow | undefined> {
  return billingDb(services.db).selectFrom('mp_subscriptions').selectAll().where('account_id', '=', accountId).where('product_code', '=', code)
    .where((eb) => eb.or([eb('expires_at', '=', 0), eb('expires_at', '>', at)])).orderBy('expires_at', 'desc').executeTakeFirst();
}

/** Product codes among `codes` that `accountId` may run now (its own products included). */
export async function subscribedCodes(services: Pick<Services, 'db' | 'clock' | 'regions'>, accountId: string, codes: string[]): Promise<Set<string>> {
  const unique = [...new Set(codes.filter(Boolean))];
  if (!unique.length) return new Set();
  const db = billingDb(services.db);
  const now = services.clock.now();
  const [subs, own] = await Promise.all([
    db.selectFrom('mp_subscriptions').select('product_code').distinct().where('account_id', '=', accountId).where('product_code', 'in', unique)
      .where((eb) => eb.or([eb('expires_at', '=', 0), eb('expires_at', '>', now)])).execute(),
    db.selectFrom('mp_products').select('code').where('isv_id', '=', accountId).where('code', 'in', unique).execute(),
  ]);
  return new Set([...subs.map((r) => r.product_code), ...own.map((r) => r.code)]);
}

/** ImageNotSubscribed unless the account may run images of product `code`. */
export async function assertSubscribed(services: Pick<Services, 'db' | 'clock' | 'regions'>, accountId: string, code: string): Promise<void> {
  if (!(await subscribedCodes(services, accountId, [code])).has(code)) throw apiError('ImageNotSubscribed');
}

export async function subscribe(services: Pick<Services, 'db' | 'clock' | 'regions'>, input: { accountId: string; code: string; months?: number }): Promise<SubscriptionRow> {
  const product = await requireProduct(services, input.code);
  const db = billingDb(services.db);
  const now = services.clock.now();
  if (product.priceModel !== 'monthly' && input.months !== undefined) throw apiError('InvalidPeriod.ValueNotSupported');
  if (product.priceModel !== 'monthly') {
    const current = await activeSubscription(services, input.accountId, input.code, now);
    if (current) return current;
  }
  const months = product.priceModel === 'monthly' ? input.months ?? 1 : 0;
  if (product.priceModel === 'monthly' && (!Number.isInteger(months) || months < 1 || months > 36)) throw apiError('InvalidPeriod.ValueNotSupported');
  return db.transaction().execute(async (trx) => {
    let start = now;
    if (product.priceModel === 'monthly') {
      const last = await trx.selectFrom('mp_subscriptions').select('expires_at').where('account_id', '=', input.accountId)
        .where('product_code', '=', input.code).orderBy('expires_at', 'desc').executeTakeFirst();
      if (last && Number(last.expires_at) > now) start = Number(last.expires_at);
    }
    const row: SubscriptionRow = {
      id: `sub-${randomBase36(20)}`, account_id: input.accountId, product_code: input.code, months,
      amount_micro: product.priceModel === 'monthly' ? product.monthlyMicro * months : product.priceModel === 'byol' ? product.oneTimeMicro : 0,
      created_at: now, expires_at: months ? start + months * prices().hoursPerMonth * HOUR : 0,
    };
    await trx.insertInto('mp_subscriptions').values(row).execute();
    return row;
  });
}
