import crypto from 'node:crypto';
import { hmacSha256Hex, pct, sha256Hex } from '../http/signing.ts';

export { pct, sha256Hex };

function canonicalPairs(pairs: [string, string][]): string {
  return pairs
    .map(([k, v]) => [pct(k), pct(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** V1 (HMAC-SHA1): every parameter but `Signature`, decoded, then re-encoded and sorted. */
export function v1StringToSign(method: string, params: Record<string, string>): string {
  const pairs = Object.entries(params).filter(([k]) => k !== 'Signature');
  return `${method.toUpperCase()}&${pct('/')}&${pct(canonicalPairs(pairs))}`;
}

export function v1Signature(secret: string, stringToSign: string): string {
  return crypto.createHmac('sha1', secret + '&').update(stringToSign).digest('base64');
}

export const V3_ALGORITHM = 'ACS3-HMAC-SHA256';

export interface V3Authorization {
  algorithm: string;
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

export function parseV3Authorization(header: string): V3Authorization | undefined {
  const m = /^(\S+)\s+Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-fA-F]+)$/.exec(header.trim());
  if (!m) return undefined;
  return { algorithm: m[1], accessKeyId: m[2], signedHeaders: m[3].split(';'), signature: m[4].toLowerCase() };
}

export interface V3Request {
  method: string;
  path: string;
  /** Decoded query pairs (not body parameters: the payload hash covers those). */
  query: [string, string][];
  /** Lower-case header names to values. */
  headers: Record<string, string | string[] | undefined>;
  signedHeaders: string[];
  payloadHash: string;
}

export function v3CanonicalRequest(r: V3Request): string {
  const headerBlock = r.signedHeaders
    .map((h) => {
      const v = r.headers[h];
      return `${h}:${(Array.isArray(v) ? v.join(',') : v ?? '').trim()}\n`;
    })
    .join('');
  const uri = pct(decodeURIComponent(r.path)).replace(/%2F/g, '/');
  return [r.method.toUpperCase(), uri, canonicalPairs(r.query), headerBlock, r.signedHeaders.join(';'), r.payloadHash].join('\n');
}

export function v3StringToSign(canonicalRequest: string): string {
  return `${V3_ALGORITHM}\n${sha256Hex(canonicalRequest)}`;
}

export function v3Signature(secret: string, stringToSign: string): string {
  return hmacSha256Hex(secret, stringToSign);
}

