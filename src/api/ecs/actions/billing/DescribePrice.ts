/**
 * DescribePrice, the image part: `image` (OS licence + Marketplace hourly fee, per instance) and
 * `snapshotStorage` (the caller's snapshots behind the image) for `Period` × `PriceUnit`, and `Amount`
 * instances. Other resources (instance type, disks, bandwidth) are not priced here and appear as zero.
 * Prices are the ones the meter charges with; discounts are always zero.
 */
import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { apiError } from '../../../../domain/errors.ts';
import { quoteImage } from '../../../../services/billing/quote.ts';
import { prices } from '../../../../services/billing/prices.ts';
import { formatMicro } from '../../../../services/billing/money.ts';

const PERIODS: Record<string, [number, number]> = { Hour: [1, 1], Week: [1, 4], Month: [1, 9], Year: [1, 5] };

function money(micro: number) {
  const v = Number(formatMicro(micro));
  return { OriginalPrice: v, DiscountPrice: 0, TradePrice: v };
}

export default defineAction({
  name: 'DescribePrice',
  readOnly: true,
  schema: {
    ...regionParam,
    ResourceType: p.str({ enum: ['instance'], invalid: 'InvalidResourceType.ValueNotSupported' }),
    InstanceType: p.str({ maxLength: 64 }),
    ImageId: p.str({ maxLength: 128 }),
    Platform: p.str({ enum: ['Windows', 'Linux'] }),
    PriceUnit: p.str({ enum: Object.keys(PERIODS), invalid: 'InvalidPriceUnit.ValueNotSupported' }),
    Period: p.int({ min: 1, max: 9, invalid: 'InvalidPeriod.ValueNotSupported' }),
    Amount: p.int({ min: 1, max: 1000 }),
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    if (!params.InstanceType) throw apiError('MissingParameter', 'InstanceType');
    const unit = params.PriceUnit ?? 'Hour';
    const period = params.Period ?? 1;
    if (period > PERIODS[unit][1]) throw apiError('InvalidPeriod.ValueNotSupported');
    const catalog = prices();
    const hours = period * { Hour: 1, Week: 168, Month: catalog.hoursPerMonth, Year: 12 * catalog.hoursPerMonth }[unit]!;
    const amount = params.Amount ?? 1;
    const q = await quoteImage(services, { region: region.id, accountId, instanceType: params.InstanceType, imageId: params.ImageId, platform: params.Platform });

    const license = q.licenseMicroPerHour * hours * amount;
    const marketplace = q.marketplaceMicroPerHour * hours * amount;
    const snapshot = q.snapshotMicroPerHour * hours;
    const rules = [
      ...(q.licenseMicroPerHour ? [{ RuleId: 1, Description: `licence ${q.licenseClass}, ${q.vcpu} vCPU: ${formatMicro(q.licenseMicroPerHour)} ${catalog.currency}/hour` }] : []),
      ...(q.marketplaceMicroPerHour ? [{ RuleId: 2, Description: `marketplace ${q.product!.code}, ${q.vcpu} vCPU: ${formatMicro(q.marketplaceMicroPerHour)} ${catalog.currency}/hour` }] : []),
    ];
    const related = q.marketplaceMicroPerHour ? marketplace : q.subscriptionMicro * (q.product?.priceModel === 'monthly' && unit === 'Month' ? period : 1);
    return {
      PriceInfo: {
        Price: {
          Currency: catalog.currency,
          ...money(license + marketplace + snapshot),
          ReservedInstanceHourPrice: 0,
          DetailInfos: {
            DetailInfo: [
              { Resource: 'image', ...money(license + marketplace), SubRules: { Rule: rules } },
              { Resource: 'snapshotStorage', ...money(snapshot), SubRules: { Rule: [] } },
            ],
          },
        },
        Rules: { Rule: rules },
        RelatedPrice: { MarketplaceImagePrice: { Currency: catalog.currency, ...money(related) } },
        ImagePriceBreakdown: {
          InstanceLicenseFee: formatMicro(license),
          MarketplaceImageFee: formatMicro(marketplace),
          SnapshotStorageFee: formatMicro(snapshot),
          MarketplaceSubscriptionFee: formatMicro(q.subscriptionMicro),
          ProductCode: q.product?.code ?? '',
          PriceModel: q.product?.priceModel ?? '',
        },
      },
    };
  },
});
