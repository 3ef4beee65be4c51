import { defineAction } from '../action.ts';
import { p } from '../params.ts';

const LANGUAGES = ['zh-CN', 'zh-TW', 'en-US', 'ja', 'fr', 'de', 'ko'] as const;

export default defineAction({
  name: 'DescribeRegions',
  readOnly: true,
  schema: {
    AcceptLanguage: p.str({ enum: LANGUAGES }),
    InstanceChargeType: p.str({ enum: ['PrePaid', 'PostPaid', 'SpotWithPriceLimit', 'SpotAsPriceGo'] }),
    ResourceType: p.str({ enum: ['instance', 'disk', 'reservedinstance', 'scu'] }),
  },
  async run({ services }, params) {
    const lang = params.AcceptLanguage ?? 'zh-CN';
    return {
      Regions: {
        Region: services.regions.all.map((r) => ({
          RegionId: r.id,
          LocalName: r.localNames[lang] ?? r.localNames['en-US'] ?? r.id,
          RegionEndpoint: r.endpoint,
          Status: 'available',
        })),
      },
    };
  },
});
