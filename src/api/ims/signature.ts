/**
 * Huawei Cloud's AK/SK signature (`SDK-HMAC-SHA256`), rebuilt the way the official SDK core builds it
 * (`AKSKSigner`): each path segment RFC 3986-encoded with a trailing `/`; query keys sorted, the values of a
 * repeated key sorted; every signed header as `name:value`; the body's SHA-256 (or `X-Sdk-Content-Sha256`).
 */
import { hmacSha256Hex, pct, sha256Hex } from '../http/signing.ts';

export const HUAWEI_ALGORITHM = 'SDK-HMAC-SHA256';
export const SDK_DATE_HEADER = 'x-sdk-date';
export const SDK_CONTENT_SHA256_HEADER = 'x-sdk-content-sha256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface HuaweiAuthorization {
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

export function parseHuaweiAuthorization(header: string): HuaweiAuthorization | undefined {
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m) return undefined;
  return { accessKeyId: m[1], signedHeaders: m[2].split(';'), signature: m[3].toLowerCase() };
}

/** `X-Sdk-Date` (`YYYYMMDDTHHmmssZ`) as epoch ms; undefined when malformed. */
export function parseSdkDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(t) || new Date(t).getUTCDate() !== +m[3] ? undefined : t;
}

export interface HuaweiSignedRequest {
  method: string;
  /** The path as sent (percent-encoded). */
  rawPath: string;
  /** Decoded query pairs in wire order. */
  query: [string, string][];
  headers: Readonly<Record<string, string | string[] | undefined>>;
  signedHeaders: string[];
  payloadHash: string;
}

function canonicalUri(rawPath: string): string {
  const uri = rawPath.split('/').map((seg) => pct(decodeURIComponent(seg))).join('/');
  return uri.endsWith('/') ? uri : uri + '/';
}

function canonicalQuery(pairs: [string, string][]): string {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of pairs) byKey.set(k, [...(byKey.get(k) ?? []), v]);
  return [...byKey.keys()].sort().flatMap((k) => byKey.get(k)!.sort().map((v) => `${pct(k)}=${pct(v)}`)).join('&');
}

function canonicalHeaders(headers: HuaweiSignedRequest['headers'], names: string[]): string {
  return names.map((name) => {
    const v = headers[name];
    return `${name}:${Array.isArray(v) ? v.join(',') : v ?? ''}\n`;
  }).join('');
}

export function huaweiCanonicalRequest(r: HuaweiSignedRequest): string {
  return [r.method.toUpperCase(), canonicalUri(r.rawPath), canonicalQuery(r.query), canonicalHeaders(r.headers, r.signedHeaders), r.signedHeaders.join(';'), r.payloadHash].join('\n');
}

export function huaweiStringToSign(sdkDate: string, canonicalRequest: string): string {
  return `${HUAWEI_ALGORITHM}\n${sdkDate}\n${sha256Hex(canonicalRequest)}`;
}

export function huaweiSignature(secret: string, stringToSign: string): string {
  return hmacSha256Hex(secret, stringToSign);
}
