/** `imagehouse marketplace list|subscribe` (API client) and `marketplace publish` (admin: writes the store). */
import type { Command } from '../../command.ts';
import { EXIT } from '../../command.ts';
import { callAction } from '../../api.ts';
import { table } from '../../format.ts';
import { loadConfig } from '../../../config.ts';
import { adminUseCases, openAdmin } from '../../admin.ts';
import { parseMicro, type PriceTier } from '../../../domain/catalog/prices.ts';
import { CatalogError } from '../../../domain/catalog/types.ts';
import type { PriceModel } from '../../../services/billing/tables.ts';
import { arg, int, str, withClient } from '../compute/client.ts';

export const marketplaceList: Command = {
  path: ['marketplace', 'list'],
  summary: 'Marketplace products sold in the region, their prices, versions and whether you are subscribed',
  usage: 'imagehouse marketplace list [--code CODE] [--region R] [--json]\n\nExample:\n  imagehouse marketplace list --region cn-hangzhou',
  async run({ flags }, io) {
    return withClient('marketplace list', flags, io, async (cfg) => {
      const code = str(flags, 'code');
      const body = await callAction(cfg, 'DescribeMarketplaceProducts', { RegionId: cfg.region, ...(code ? { 'ProductCode.1': code } : {}) });
      const items = body.Products.Product as any[];
      if (flags.json) io.out(JSON.stringify(items));
      else io.out(table(['CODE', 'NAME', 'MODEL', 'PRICE', 'VERSIONS', 'SUBSCRIBED'], items.map((x) => [
        x.ProductCode, x.ProductName, x.PriceModel,
        x.PriceModel === 'hourly' ? x.HourlyPrices.HourlyPrice.map((t: any) => `≤${t.MaxVcpu}vCPU ${t.Price}/h`).join(', ')
          : x.PriceModel === 'monthly' ? `${x.MonthlyPrice}/month` : x.PriceModel === 'byol' ? `${x.OneTimePrice} once` : 'free',
        x.Versions.Version.map((v: any) => `${v.ImageVersion}=${v.ImageId}`).join(', '), x.IsSubscribed ? 'yes' : 'no',
      ])));
      return EXIT.ok;
    });
  },
};

export const marketplaceSubscribe: Command = {
  path: ['marketplace', 'subscribe'],
  summary: 'Subscribe to (or buy) a Marketplace product so that its images can run',
  usage: 'imagehouse marketplace subscribe CODE [--months N (monthly products)] [--json]\n\nExample:\n  imagehouse marketplace subscribe cmjj012345 --months 3',
  async run({ flags, rest }, io) {
    return withClient('marketplace subscribe', flags, io, async (cfg) => {
      const body = await callAction(cfg, 'SubscribeMarketplaceProduct', { ProductCode: arg(rest, 0, 'CODE'), Period: int(flags, 'months') });
      const { RequestId: _r, ...out } = body;
      io.out(flags.json ? JSON.stringify(out) : `${out.ProductCode}: subscribed (${out.SubscriptionId}, paid ${out.TradePrice}${out.ExpiredTime ? `, until ${out.ExpiredTime}` : ''})`);
      return EXIT.ok;
    });
  },
};

/** "0.5" or "4=0.3,8=0.6,64=1.2" (max vCPU = price per hour). */
function hourlyTiers(raw: string): PriceTier[] {
  if (!raw.includes('=')) return [{ maxVcpu: 1_000_000, micro: parseMicro(raw, '--hourly') }];
  return raw.split(',').map((part) => {
    const [cpu, price] = part.split('=');
    if (!/^\d+$/.test(cpu ?? '')) throw new CatalogError(`--hourly: bad tier ${part}`);
    return { maxVcpu: Number(cpu), micro: parseMicro(price, '--hourly') };
  });
}

export const marketplacePublish: Command = {
  path: ['marketplace', 'publish'],
  summary: 'Admin: publish (or update) an ISV product and, with --from-image, a new version of it',
  usage: [
    'imagehouse marketplace publish --isv ACCOUNT_ID --code CODE --name NAME --model free|hourly|monthly|byol',
    '    [--hourly PRICE | --hourly 4=0.3,8=0.6] [--monthly PRICE] [--once PRICE] [--description TEXT] [--regions R1,R2]',
    '    [--from-image IMAGE_ID --version V --region R] [--json] [--data DIR]',
    '',
    'Example:',
    '  imagehouse marketplace publish --isv 1234 --code acme-lamp --name "ACME LAMP" --model hourly --hourly 4=0.30,64=0.90 \\',
    '      --from-image m-bp1xxxx --version 1.0 --region cn-hangzhou',
  ].join('\n'),
  async run({ flags }, io) {
    const { MarketplaceError, PRICE_MODELS, publishProduct, publishVersion } = await adminUseCases();
    const need = (k: string) => {
      const v = flags[k];
      if (typeof v !== 'string') throw new MarketplaceError(`--${k} is required`);
      return v;
    };
    const config = loadConfig(flags, io.env);
    const deps = await openAdmin(config);
    try {
      const model = need('model') as PriceModel;
      if (!PRICE_MODELS.includes(model)) throw new MarketplaceError(`--model must be one of ${PRICE_MODELS.join(', ')}`);
      const product = await publishProduct(deps, {
        isvId: need('isv'), code: need('code'), name: need('name'), description: typeof flags.description === 'string' ? flags.description : '',
        priceModel: model, hourlyTiers: typeof flags.hourly === 'string' ? hourlyTiers(flags.hourly) : undefined,
        monthlyMicro: typeof flags.monthly === 'string' ? parseMicro(flags.monthly, '--monthly') : undefined,
        oneTimeMicro: typeof flags.once === 'string' ? parseMicro(flags.once, '--once') : undefined,
        regions: typeof flags.regions === 'string' ? flags.regions.split(',').filter(Boolean) : undefined,
      });
      let imageId = '';
      if (typeof flags['from-image'] === 'string') {
        imageId = await publishVersion(deps, { isvId: product.isvId, code: product.code, region: need('region'), fromImageId: flags['from-image'], version: need('version') });
      }
      io.out(flags.json ? JSON.stringify({ ProductCode: product.code, ImageId: imageId }) : `${product.code}: published${imageId ? `, version image ${imageId}` : ''}`);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof MarketplaceError || e instanceof CatalogError) {
        io.err(`marketplace publish: ${e.message}`);
        return EXIT.usage;
      }
      if (e instanceof Error && 'code' in e && typeof (e as any).status === 'number') {
        io.err(`marketplace publish: ${(e as any).code}: ${e.message}`);
        return EXIT.rejected;
      }
      throw e;
    } finally {
      await deps.close();
    }
  },
};
