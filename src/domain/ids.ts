import crypto from 'node:crypto';

export type ResourceKind = 'image' | 'snapshot' | 'instance' | 'disk' | 'task';

const PREFIX: Record<ResourceKind, string> = { image: 'm', snapshot: 's', instance: 'i', disk: 'd', task: 't' };
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export function randomBase36(n: number): string {
  const bytes = crypto.randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[bytes[i] % 36];
  return s;
}

/**
 * Alibaba-style resource IDs: `<prefix>-<region infix><random>`, 20 characters after the dash,
 * e.g. `m-bp1g7004ksh0oeuc8z5q` in cn-hangzhou. The infix makes the region recoverable from the ID.
 */
export function newResourceId(kind: ResourceKind, infix: string): string {
  return `${PREFIX[kind]}-${infix}${randomBase36(20 - infix.length)}`;
}

/** 16-digit numeric account ID, like an Alibaba Cloud UID. Below 2^53, so JSON clients read it exactly. */
export function newAccountId(): string {
  const digits = crypto.randomInt(1, 9).toString() + Array.from({ length: 15 }, () => crypto.randomInt(0, 10)).join('');
  return digits;
}

/** AccessKeyId in Alibaba's shape: `LTAI` + 20 base62 characters. */
export function newAccessKeyId(): string {
  return 'LTAI' + base62(20);
}

/** AccessKeySecret: 30 base62 characters. */
export function newAccessKeySecret(): string {
  return base62(30);
}

function base62(n: number): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  while (s.length < n) {
    const b = crypto.randomBytes(n);
    for (const x of b) if (x < 248 && s.length < n) s += chars[x % 62];
  }
  return s;
}
