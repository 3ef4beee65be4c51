/** Small helpers for reading on-disk integers and checking ranges, shared by every format parser. */
import { fail, type FormatErrorReason } from './errors.ts';

const TWO32 = 0x1_0000_0000;

/** u64 as a number; values above 2^53 come back imprecise but huge, so every later bounds check fails them. */
export function u64be(buf: Buffer, off: number): number {
  return buf.readUInt32BE(off) * TWO32 + buf.readUInt32BE(off + 4);
}

export function u64le(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 4) * TWO32 + buf.readUInt32LE(off);
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** A named byte range of the file, for bounds and overlap checks. */
export interface Region {
  name: string;
  start: number;
  length: number;
}

/** Rejects a table that does not lie entirely inside the file. */
export function checkInFile(fileSize: number, r: Region, reason: FormatErrorReason = 'table-out-of-bounds'): void {
  const end = r.start + r.length;
  if (!(r.start >= 0) || !Number.isSafeInteger(end) || end > fileSize) {
    fail(reason, `${r.name} at offset ${r.start} (${r.length} bytes) ends beyond the end of the file (${fileSize} bytes)`);
  }
}

export function overlaps(a: Region, b: Region): boolean {
  return a.length > 0 && b.length > 0 && a.start < b.start + b.length && b.start < a.start + a.length;
}

/** Rejects any two regions that share a byte. Meant for a handful of fixed tables (quadratic). */
export function checkNoOverlap(regions: Region[]): void {
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      if (overlaps(regions[i], regions[j])) {
        fail('table-overlap', `${regions[i].name} (offset ${regions[i].start}) overlaps ${regions[j].name} (offset ${regions[j].start})`);
      }
    }
  }
}

/** Rejects when `r` overlaps any of `fixed`. */
export function checkClear(r: Region, fixed: Region[]): void {
  for (const f of fixed) {
    if (overlaps(r, f)) fail('table-overlap', `${r.name} (offset ${r.start}) overlaps ${f.name} (offset ${f.start})`);
  }
}

/**
 * Rejects duplicate or overlapping equal-sized tables given by their start offsets (e.g. every L2 table).
 * Sorts in place; memory is 8 bytes per table.
 */
export function checkDistinct(starts: Float64Array, length: number, name: string): void {
  starts.sort();
  for (let i = 1; i < starts.length; i++) {
    if (starts[i] < starts[i - 1] + length) {
      fail('table-overlap', `two ${name}s overlap at offset ${starts[i]}`);
    }
  }
}

/** Printable, length-capped rendering of a name found in a file, for error messages. */
export function printable(bytes: Buffer, max = 200): string {
  const s = bytes.subarray(0, max).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
  return bytes.length > max ? s + '...' : s;
}
