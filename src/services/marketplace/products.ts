/**
 * Marketplace products: an ISV account sells a product (code, name, description, price model, regions);
 * each version is an image with category `marketplace` and the product's code, published from one of the
 * ISV's own Available custom images (it points at the same snapshots, which the ISV keeps paying for).
 */
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import type { PriceTier } from '../../domain/catalog/prices.ts';
import type { Services } from '../context.ts';

/** What Marketplace operations need (the admin CLI builds this without a running server). */
import { insertImage } from '../images/rows.ts';
import { requireOwnImage } from '../images/modify.ts';
import { billingDb, type PriceModel, type ProductRow } from '../billing/tables.ts';

export const PRICE_MODELS: readonly PriceModel[] = ['free', 'hourly', 'monthly', 'byol'];

export interface ProductInput {
  isvId: string;
  code: string;
  name: string;
  description?: string;
  priceModel: PriceModel;
  hourlyTiers?: PriceTier[];
  monthlyMicro?: number;
  oneTimeMicro?: number;
  regions?: string[];
}

export class MarketplaceError extends Error {}

export interface Product {
  code: string;
  isvId: string;
  name: string;
  description: string;
  priceModel: PriceModel;
  hourlyTiers: PriceTier[];
  monthlyMicro: number;
  oneTimeMicro: number;
  regions: string[];
  createdAt: number;
}

export function productOf(r: ProductRow): Product {
  return {
    code: r.code, isvId: r.isv_id, name: r.name, description: r.description, priceModel: r.price_model,
    hourlyTiers: (JSON.parse(r.hourly_tiers) as [number, number][]).map(([maxVcpu, micro]) => ({ maxVcpu, micro })),
    monthlyMicro: Number(r.monthly_micro), oneTimeMicro: Number(r.one_time_micro),
    regions: r.regions ? r.regions.split(',') : [], createdAt: Number(r.created_at),
  };
}

export function isSoldIn(p: Product, region: string): boolean {
  return p.regions.length === 0 || p.regions.includes(region);
}

/** Creates the product, or updates it when the same ISV publishes it again. */
export async function publishProduct(services: Pick<Services, 'db' | 'clock' | 'regions'>, input: ProductInput): Promise<Product> {
  if (!/^[a-z][a-z0-9_-]{1,63}$/.test(input.code)) throw new MarketplaceError(`product code ${JSON.stringify(input.code)}: 2-64 lower-case letters, digits, _ or -, starting with a letter`);
  if (!PRICE_MODELS.includes(input.priceModel)) throw new MarketplaceError(`price model must be one of ${PRICE_MODELS.join(', ')}`);
  if (input.priceModel === 'hourly' && !input.hourlyTiers?.length) throw new MarketplaceError('an hourly product needs an hourly price');
  if (input.priceModel === 'monthly' && !input.monthlyMicro) throw new MarketplaceError('a monthly product needs a monthly price');
  if (input.priceModel === 'byol' && input.oneTimeMicro === undefined) throw new MarketplaceError('a BYOL product needs a one-time price');
  for (const r of input.regions ?? []) services.regions.require(r);
  const db = billingDb(services.db);
  const row: ProductRow = {
    code: input.code, isv_id: input.isvId, name: input.name, description: input.description ?? '', price_model: input.priceModel,
    hourly_tiers: JSON.stringify((input.hourlyTiers ?? []).map((t) => [t.maxVcpu, t.micro])),
    monthly_micro: input.monthlyMicro ?? 0, one_time_micro: input.oneTimeMicro ?? 0, regions: (input.regions ?? []).join(','),
    created_at: services.clock.now(),
  };
  await db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('mp_products').select('isv_id').where('code', '=', input.code).executeTakeFirst();
    if (existing && existing.isv_id !== input.isvId) throw new MarketplaceError(`product code ${input.code} belongs to another ISV`);
    if (existing) {
      const { code: _c, created_at: _t, ...attrs } = row;
      await trx.updateTable('mp_products').set(attrs).where('code', '=', input.code).execute();
    } else {
      await trx.insertInto('mp_products').values(row).execute();
    }
  });
  return (await findProduct(services, input.code))!;
}

/** A new version of `code`: a Marketplace image in the source image's region, on the same snapshots. */
export async function publishVersion(services: Pick<Services, 'db' | 'clock' | 'regions'>, input: { isvId: string; code: string; region: string; fromImageId: string; version: string }): Promise<string> {
  const product = await findProduct(services, input.code);
  if (!product || product.isvId !== input.isvId) throw new MarketplaceError(`no product ${input.code} of this ISV`);
  const region = services.regions.require(input.region);
  const src = await requireOwnImage(services, region.id, input.fromImageId, input.isvId).catch(() => {
    throw new MarketplaceError(`image ${input.fromImageId} is not an image of this ISV in ${region.id}`);
  });
  if (src.status !== 'Available') throw new MarketplaceError(`image ${src.id} is ${src.status}, not Available`);
  if (src.product_code && src.product_code !== input.code) throw new MarketplaceError(`image ${src.id} derives from another product (${src.product_code})`);
  const disks = await services.db.selectFrom('image_disks').selectAll().where('image_id', '=', src.id).orderBy('idx').execute();
  const id = newResourceId('image', region.infix);
  const { id: _i, created_at: _c, updated_at: _u, ...attrs } = src;
  await services.db.transaction().execute(async (trx) => {
    await insertImage(trx, {
      ...attrs, id, name: `${product.name.replace(/[^A-Za-z0-9._:-]/g, '-')}-${input.version}`.slice(0, 128), family: '',
      version: input.version, description: product.description.slice(0, 256), category: 'marketplace', product_code: input.code,
      source_kind: 'marketplace', source_id: src.id, is_public: 0,
    }, disks.map(({ image_id: _x, idx: _y, ...d }) => d), [], services.clock.now());
  });
  return id;
}

export async function findProduct(services: Pick<Services, 'db' | 'clock' | 'regions'>, code: string): Promise<Product | undefined> {
  const row = await billingDb(services.db).selectFrom('mp_products').selectAll().where('code', '=', code).executeTakeFirst();
  return row ? productOf(row) : undefined;
}

export async function requireProduct(services: Pick<Services, 'db' | 'clock' | 'regions'>, code: string): Promise<Product> {
  const p = await findProduct(services, code);
  if (!p) throw apiError('InvalidProductCode.NotFound');
  return p;
}

export async function listProducts(services: Pick<Services, 'db' | 'clock' | 'regions'>, filter: { region?: string; codes?: string[]; isvId?: string } = {}): Promise<Product[]> {
  let q = billingDb(services.db).selectFrom('mp_products').selectAll().orderBy('code');
  if (filter.codes?.length) q = q.where('code', 'in', filter.codes);
  if (filter.isvId) q = q.where('isv_id', '=', filter.isvId);
  return (await q.execute()).map(productOf).filter((p) => !filter.region || isSoldIn(p, filter.region));
}

/** Image IDs of each product's versions in `region` (newest first). */
export async function versionsOf(services: Pick<Services, 'db' | 'clock' | 'regions'>, region: string, codes: string[]): Promise<Map<string, { id: string; version: string }[]>> {
  const out = new Map<string, { id: string; version: string }[]>(codes.map((c) => [c, []]));
  if (!codes.length) return out;
  const rows = await services.db.selectFrom('images').select(['id', 'version', 'product_code']).where('region', '=', region)
    .where('category', '=', 'marketplace').where('product_code', 'in', codes).orderBy('created_at', 'desc').execute();
  for (const r of rows) out.get(r.product_code)?.push({ id: r.id, version: r.version });
  return out;
}
