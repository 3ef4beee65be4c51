/** Comparing secrets (signatures, tokens, MACs, CSRF tokens) without leaking where they differ. */
import crypto from 'node:crypto';

/** Constant-time string comparison; strings of different lengths compare unequal without leaking where. */
export function sameSecret(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y) && a.length === b.length;
}
