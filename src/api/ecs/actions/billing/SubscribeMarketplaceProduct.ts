/**
 * Not an Alibaba ECS action (there, subscribing happens in the Marketplace console): subscribes the caller
 * to a product. Monthly products take `Period` months (default 1) and are paid up front; BYOL products
 * cost their one-time price; free and hourly products just become runnable (hourly use is metered).
 */
import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { subscribe } from '../../../../services/marketplace/subscriptions.ts';
import { formatMicro } from '../../../../services/billing/money.ts';
import { isoSeconds } from '../../views/time.ts';

export default defineAction({
  name: 'SubscribeMarketplaceProduct',
  schema: {
    ProductCode: p.str({ required: true, maxLength: 64 }),
    Period: p.int({ min: 1, max: 36, invalid: 'InvalidPeriod.ValueNotSupported' }),
  },
  async run({ services, accountId }, params) {
    const s = await subscribe(services, { accountId, code: params.ProductCode, months: params.Period });
    return {
      SubscriptionId: s.id,
      ProductCode: s.product_code,
      CreationTime: isoSeconds(Number(s.created_at)),
      ExpiredTime: s.expires_at ? isoSeconds(Number(s.expires_at)) : '',
      TradePrice: formatMicro(Number(s.amount_micro)),
    };
  },
});
