/** Not an Alibaba ECS action (Marketplace has its own API there): the products sold in a region, their versions and prices. */
import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { listProducts, versionsOf } from '../../../../services/marketplace/products.ts';
import { subscribedCodes } from '../../../../services/marketplace/subscriptions.ts';
import { formatMicro } from '../../../../services/billing/money.ts';
import { prices } from '../../../../services/billing/prices.ts';

export default defineAction({
  name: 'DescribeMarketplaceProducts',
  readOnly: true,
  schema: {
    ...regionParam,
    ProductCode: p.list({ max: 100, maxLength: 64 }),
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    const products = await listProducts(services, { region: region.id, codes: params.ProductCode });
    const codes = products.map((x) => x.code);
    const [versions, subscribed] = await Promise.all([versionsOf(services, region.id, codes), subscribedCodes(services, accountId, codes)]);
    return {
      Currency: prices().currency,
      Products: {
        Product: products.map((x) => ({
          ProductCode: x.code,
          ProductName: x.name,
          Description: x.description,
          SupplierId: x.isvId,
          PriceModel: x.priceModel,
          HourlyPrices: { HourlyPrice: x.hourlyTiers.map((t) => ({ MaxVcpu: t.maxVcpu, Price: formatMicro(t.micro) })) },
          MonthlyPrice: formatMicro(x.monthlyMicro),
          OneTimePrice: formatMicro(x.oneTimeMicro),
          Regions: { RegionId: x.regions },
          IsSubscribed: subscribed.has(x.code),
          Versions: { Version: (versions.get(x.code) ?? []).map((v) => ({ ImageId: v.id, ImageVersion: v.version })) },
        })),
      },
    };
  },
});
