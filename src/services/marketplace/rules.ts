/** Where images derived from a Marketplace product may go (spec §3.6). */
import { apiError } from '../../domain/errors.ts';
import type { MarketplaceDeps } from './products.ts';
import { findProduct, isSoldIn } from './products.ts';
import { subscribedCodes } from './subscriptions.ts';

/** CopyImage of an image carrying `code`: the product must be sold in the destination and the caller subscribed. */
export async function assertMarketplaceCopy(services: MarketplaceDeps, code: string, destinationRegion: string, caller: string): Promise<void> {
  const product = await findProduct(services, code);
  if (!product || !isSoldIn(product, destinationRegion)) throw apiError('OperationDenied.NotPublished');
  if (!(await subscribedCodes(services, caller, [code])).has(code)) throw apiError('OperationDenied.NotAuthorized');
}
