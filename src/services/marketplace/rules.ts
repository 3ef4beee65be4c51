/** Where images derived from a Marketplace product may go (spec §3.6). */
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import { findProduct, isSoldIn } from './products.ts';
import { subscribedCodes } from './subscriptions.ts';

/** CopyImage of an image carrying `code`: the product must be sold in the destination and the caller subscribed. */
export async function assertMarketplaceCopy(services: Pick<Services, 'db' | 'clock' | 'regions'>, code: string, destinationRegion: string, caller: string): Promise<void> {
  const product = await findProduct(services, code);
  if (!product || !isSoldIn(product, destinationRegion)) throw apiError('OperationDenied.NotPublished');
  if (!(await subscribedCodes(services, caller, [code])).has(code)) throw apiError('OperationDenied.NotAuthorized');
}
