/** The one way HTTP surfaces read query strings. */
import { apiError } from '../../domain/errors.ts';

/** Decoded query pairs in wire order, as signatures canonicalise them. */
export function queryPairs(rawUrl: string | undefined): [string, string][] {
  const q = (rawUrl ?? '').indexOf('?');
  return q < 0 ? [] : [...new URLSearchParams((rawUrl ?? '').slice(q + 1)).entries()];
}

/**
 * One value per key. A repeated key is refused: the signature covers every occurrence, so picking one of
 * them would act on a parameter set the signer may not have meant.
 */
export function singleValued(...lists: [string, string][][]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const list of lists) {
    for (const [k, v] of list) {
      if (k in out) throw apiError('InvalidParameter.Duplicate', k);
      out[k] = v;
    }
  }
  return out;
}
