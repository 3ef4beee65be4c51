/**
 * The one reading of an HTTP `Range: bytes=…` request header, for every surface that serves byte ranges: a single
 * `bytes=A-B`, `bytes=A-` or `bytes=-N` (written as webob reads it: `bytes` in any case, spaces around `=` and `-`),
 * resolved against the size as RFC 7233 says: an end past the last byte stops at it, a suffix longer than the data is
 * all of it. Each surface answers a refused range its own way (the disks API a bare 416, Glance its error document).
 */
import type { ByteRange } from '../../domain/byte-range.ts';

/** `invalid`: not one range of that form (several ranges among them); `past-end`: it starts at or after the size. */
export type RangeRefusal = 'invalid' | 'past-end';

const RANGE = /^bytes *= *(\d*) *- *(\d*) *$/i;

export function resolveByteRange(value: string, size: number): ByteRange | RangeRefusal {
  const m = RANGE.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  const [first, last] = [m[1] === '' ? undefined : Number(m[1]), m[2] === '' ? undefined : Number(m[2])];
  if ((first !== undefined && !Number.isSafeInteger(first)) || (last !== undefined && !Number.isSafeInteger(last))) return 'invalid';
  if (first === undefined) return last === 0 ? 'invalid' : size === 0 ? 'past-end' : { start: Math.max(0, size - last!), end: size };
  if (last !== undefined && last < first) return 'invalid';
  if (first >= size) return 'past-end';
  return { start: first, end: last === undefined ? size : Math.min(size, last + 1) };
}

/** The `Content-Range` header of a 206 that carries `range` of data of `size` bytes. */
export function contentRange({ start, end }: ByteRange, size: number): string {
  return `bytes ${start}-${end - 1}/${size}`;
}
