/** The price catalog, loaded on first use (never at import time) and kept for the process. */
import { loadPrices, type PriceCatalog } from '../../domain/catalog/prices.ts';

let cached: PriceCatalog | undefined;

export function prices(): PriceCatalog {
  cached ??= loadPrices(process.env.IMAGEHOUSE_PRICES_FILE || undefined);
  return cached;
}
