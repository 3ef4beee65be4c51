/** The one reading of `Range: bytes=…` (api/http/byte-range.ts), which the disks API and Glance's GET /file share. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveByteRange } from '../../src/api/http/byte-range.ts';

test('a single byte range resolves against the size as RFC 7233 says, in the forms webob reads', () => {
  const size = 26;
  const cases: [string, ReturnType<typeof resolveByteRange>][] = [
    ['bytes=3-10', { start: 3, end: 11 }],
    ['bytes=20-', { start: 20, end: 26 }],
    ['bytes=20-100', { start: 20, end: 26 }],
    ['bytes=25-25', { start: 25, end: 26 }],
    ['bytes=-5', { start: 21, end: 26 }],
    ['bytes=-26', { start: 0, end: 26 }],
    ['bytes=-100', { start: 0, end: 26 }],
    ['BYTES = 3 - 4 ', { start: 3, end: 5 }],
    ['bytes=26-', 'past-end'],
    ['bytes=26-30', 'past-end'],
    ['bytes=10-5', 'invalid'],
    ['bytes=-', 'invalid'],
    ['bytes=-0', 'invalid'],
    ['bytes=0-1,3-4', 'invalid'],
    ['items=0-5', 'invalid'],
    ['bytes=a-b', 'invalid'],
    ['bytes=0-1 junk', 'invalid'],
    [`bytes=0-${'9'.repeat(20)}`, 'invalid'],
  ];
  for (const [header, want] of cases) assert.deepEqual(resolveByteRange(header, size), want, header);
  assert.equal(resolveByteRange('bytes=0-', 0), 'past-end');
  assert.equal(resolveByteRange('bytes=-3', 0), 'past-end');
});
