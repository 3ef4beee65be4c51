/**
 * The image part of an instance's price (DescribePrice for RunInstances / ReplaceSystemDisk), from the same
 * rules and catalog the meter charges with: the OS licence by vCPU tier, the Marketplace product's hourly
 * price (or its subscription price), and the hourly storage of the image's snapshots when the caller owns
 * them (a shared image's snapshots are paid for by their owner).
 */
import { apiError } from '../../domain/errors.ts';
import { tierPrice } from '../../domain/catalog/prices.ts';
import type { Services } from '../context.ts';
import { findVisibleImage } from '../images/describe.ts';
import { requireInstanceType } from '../compute/launch-rules.ts';
import { findProduct, type Product } from '../marketplace/products.ts';
import { prices } from './prices.ts';
import { storageHourMicro } from './money.ts';

export interface ImageQuote {
  imageId: string;
  licenseClass: string;
  vcpu: number;
  /** Per instance-hour. */
  licenseMicroPerHour: number;
  marketplaceMicroPerHour: number;
  /** Per hour, once for the image, whatever the number of instances. */
  snapshotMicroPerHour: number;
  product?: Product;
  /** What a monthly (per month) or BYOL (once) product costs to subscribe to. */
  subscriptionMicro: number;
}

export async function quoteImage(services: Services, input: { region: string; accountId: string; instanceType: string; imageId?: string; platform?: 'Windows' | 'Linux' }): Promise<ImageQuote> {
  const catalog = prices();
  const type = requireInstanceType(services, input.region, input.instanceType);
  const vcpu = type.CpuCoreCount;
  let licenseClass = input.platform === 'Windows' ? 'windows' : 'none';
  let product: Product | undefined;
  let snapshotMicroPerHour = 0;
  let imageId = '';
  if (input.imageId) {
    const image = await findVisibleImage(services, input.region, input.imageId, input.accountId);
    if (!image) throw apiError('InvalidImageId.NotFound');
    imageId = image.row.id;
    licenseClass = image.row.license_class || 'none';
    if (image.row.product_code) product = await findProduct(services, image.row.product_code);
    const snapshotIds = image.disks.map((d) => d.snapshot_id).filter(Boolean);
    if (snapshotIds.length) {
      const snaps = await services.db.selectFrom('snapshots').select('unique_bytes').where('id', 'in', snapshotIds).where('owner_id', '=', input.accountId).execute();
      for (const s of snaps) {
        if (Number(s.unique_bytes) > 0) snapshotMicroPerHour += storageHourMicro(Number(s.unique_bytes), catalog.snapshotMicroPerGiBMonth, catalog.hoursPerMonth);
      }
    }
  }
  const license = catalog.licenseTiers[licenseClass];
  const sells = product && product.isvId !== input.accountId ? product : undefined;
  return {
    imageId,
    licenseClass,
    vcpu,
    licenseMicroPerHour: license ? tierPrice(license, vcpu) : 0,
    marketplaceMicroPerHour: sells?.priceModel === 'hourly' ? tierPrice(sells.hourlyTiers, vcpu) : 0,
    snapshotMicroPerHour,
    product,
    subscriptionMicro: sells?.priceModel === 'monthly' ? sells.monthlyMicro : sells?.priceModel === 'byol' ? sells.oneTimeMicro : 0,
  };
}
