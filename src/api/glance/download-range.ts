/**
 * The part of an image that `GET /v2/images/{id}/file` is asked for, read as Glance reads it (webob's byte ranges,
 * `glance/common/wsgi.py` get_range_from_request): one `Range` (http/byte-range.ts), or, from clients
 * written for Glance before Pike, a `Content-Range: bytes A-B/L` request header. Several ranges are a 400; a range that
 * cannot be parsed or starts past the end is a 416. The answer is then a 206 with `Content-Range`.
 */
import { apiError } from '../../domain/errors.ts';
import type { ByteRange } from '../../domain/byte-range.ts';
import { headerValue } from '../http/headers.ts';
import { resolveByteRange } from '../http/byte-range.ts';

const CONTENT_RANGE = /^bytes (?:(\d+)-(\d+)|\*)\/(?:(\d+)|\*)/;

const unsatisfiable = (message: string) => apiError('OpenStack.RequestedRangeNotSatisfiable', message);
const startPast = (header: string, size: number) =>
  unsatisfiable(`Invalid start position in ${header} header. Start position MUST be in the inclusive range [0, ${size - 1}].`);

/** The bytes [start, end) of an image of `size` bytes the request asks for; undefined when it asks for all of it. */
export function requestedRange(headers: Record<string, string | string[] | undefined>, size: number): ByteRange | undefined {
  const range = headerValue(headers, 'range');
  if (range !== undefined) return fromRange(range, size);
  const contentRange = headerValue(headers, 'content-range');
  if (contentRange !== undefined) return fromContentRange(contentRange, size);
  return undefined;
}

function fromRange(value: string, size: number): ByteRange {
  if (value.includes(',')) throw apiError('OpenStack.BadRequest', 'Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.');
  const range = resolveByteRange(value, size);
  if (range === 'invalid') throw unsatisfiable('Invalid Range header.');
  if (range === 'past-end') throw startPast('Range', size);
  return range;
}

function fromContentRange(value: string, size: number): ByteRange {
  const m = CONTENT_RANGE.exec(value);
  if (!m || m[1] === undefined) throw unsatisfiable('Invalid Content-Range header.');
  const start = Number(m[1]);
  const stop = Number(m[2]) + 1;
  const length = m[3] === undefined ? undefined : Number(m[3]);
  if (start >= stop || (length !== undefined && (stop > length || start >= length))) throw unsatisfiable('Invalid Content-Range header.');
  const stopPast = unsatisfiable(`Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, ${size - 1}].`);
  if (length === undefined && stop > size) throw stopPast;
  if (start >= size) throw startPast('Content-Range', size);
  // Glance checks the stop only when the length is `*`, and would then send fewer bytes than it announced.
  if (stop > size) throw stopPast;
  return { start, end: stop };
}
