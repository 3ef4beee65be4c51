/** Primitives every signature scheme here shares (Alibaba ACS3/V1, Huawei SDK-HMAC-SHA256). */
import crypto from 'node:crypto';

/** RFC 3986 percent-encoding with upper-case hex: only A–Z a–z 0–9 - . _ ~ stay as they are. */
export function pct(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export function sha256Hex(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export function hmacSha256Hex(secret: string, data: string): string {
  return crypto.createHmac('sha256', secret).update(data).digest('hex');
}
